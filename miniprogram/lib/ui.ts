/**
 * WeChat's toast, loading overlay and navigation, called with callbacks as every base library allows: without one,
 * newer libraries return a promise that rejects on failure (unhandled, if nobody is holding it), older ones nothing.
 */
import { WxError } from './http';

/**
 * A toast or the loading overlay only echoes what the page's data already shows, so when WeChat cannot show or hide
 * one (hideLoading after a toast took its place) the page is still right: the failure is dropped here on purpose.
 */
const feedbackOnly = () => undefined;

export function showToast(title: string, icon: 'success' | 'none') {
  wx.showToast({ title, icon, fail: feedbackOnly });
}

export function showLoading(title: string) {
  wx.showLoading({ title, mask: true, fail: feedbackOnly });
}

export function hideLoading() {
  wx.hideLoading({ fail: feedbackOnly });
}

/** Opens a page; when WeChat refuses (10 pages already on the stack), onFail gets its errMsg to show. */
export function navigateTo(url: string, onFail: (err: WxError) => void) {
  wx.navigateTo({ url, fail: (err) => onFail(new WxError(err.errMsg)) });
}
