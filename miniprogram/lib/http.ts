/** wx.request as a promise, and the error every failed `wx.*` call becomes. */

/** A `wx.*` call that ended in its fail callback; errMsg is WeChat's, e.g. "requestPayment:fail cancel". */
export class WxError extends Error {
  constructor(readonly errMsg: string) {
    super(errMsg);
    this.name = 'WxError';
    // Keeps instanceof working when DevTools compiles classes down to ES5.
    Object.setPrototypeOf(this, WxError.prototype);
  }
}

export interface HttpResponse {
  statusCode: number;
  data: unknown;
}

export function postJson(url: string, body: object, header: Record<string, string>): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    wx.request({
      url,
      method: 'POST',
      data: body,
      header: { 'content-type': 'application/json', ...header },
      dataType: 'json',
      success: (res) => resolve({ statusCode: res.statusCode, data: res.data }),
      fail: (err) => reject(new WxError(err.errMsg)),
    });
  });
}

export interface UploadResponse {
  statusCode: number;
  /** wx.uploadFile never parses the answer: it is the body's text, JSON or not. */
  data: string;
}

/** wx.uploadFile as a promise: multipart/form-data with the file at `filePath` in the field `name`. */
export function uploadFile(
  url: string,
  filePath: string,
  name: string,
  header: Record<string, string>,
): Promise<UploadResponse> {
  return new Promise((resolve, reject) => {
    wx.uploadFile({
      url,
      filePath,
      name,
      header,
      success: (res) => resolve({ statusCode: res.statusCode, data: res.data }),
      fail: (err) => reject(new WxError(err.errMsg)),
    });
  });
}
