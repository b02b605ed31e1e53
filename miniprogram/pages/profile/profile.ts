import { ApiError } from '../../lib/client';
import { describeError } from '../../lib/messages';
import { config } from '../../config';
import {
  avatarReviewNote,
  bindPhone,
  loadMe,
  saveAvatar,
  saveNickname,
  updateProfileFromWeChat,
  waitForAvatarReview,
  type User,
} from '../../lib/profile';
import { showToast } from '../../lib/ui';
import { isTapGestureError, type PhoneNumberDetail } from '../../lib/wx-async';

const GENDERS = ['未知', '男', '女'];

const PHONE_REFUSED = {
  denied: '未授权手机号，未绑定',
  'no-quota': '暂时无法获取手机号，请稍后再试',
} as const;

interface ProfileData {
  me: User | null;
  gender: string;
  /** Country, province and city that exist, in that order ('' when none does: the server answers null for each). */
  region: string;
  loading: boolean;
  busy: boolean;
  /** Loading the profile or syncing it from WeChat went wrong. */
  message: string;
  avatarBusy: boolean;
  /** WeChat's image check of the new avatar: 审核中, or refused (the previous avatar stays shown). */
  avatarNote: string;
  nicknameBusy: boolean;
  /** The avatar or nickname was not saved, and why. */
  fillInMessage: string;
  /** false when WeChat's review of the nickname refused it (bindnicknamereview). */
  nicknameAllowed: boolean;
  phoneBusy: boolean;
  phoneMessage: string;
}

const data: ProfileData = {
  me: null,
  gender: '',
  region: '',
  loading: true,
  busy: false,
  message: '',
  avatarBusy: false,
  avatarNote: '',
  nicknameBusy: false,
  fillInMessage: '',
  nicknameAllowed: true,
  phoneBusy: false,
  phoneMessage: '',
};

/** setProfile's refusal of a nickname, in words about the nickname. */
function describeNicknameError(err: unknown): string {
  if (err instanceof ApiError && err.code === 'BAD_USER_INPUT' && err.extensions.field === 'nickname')
    return '昵称须为 1 到 32 个字，且不含控制字符';
  return describeError(err);
}

Page({
  data,

  /** Every time the page shows, so a change made elsewhere (or an avatar WeChat passed since) appears. */
  async onShow() {
    try {
      this.show(await loadMe());
      this.setData({ message: '' });
    } catch (err) {
      this.setData({ message: describeError(err) });
    } finally {
      this.setData({ loading: false });
    }
  },

  show(me: User) {
    this.setData({
      me,
      gender: GENDERS[me.gender ?? 0] ?? GENDERS[0],
      region: [me.country, me.province, me.city].filter(Boolean).join(' '),
      avatarNote: avatarReviewNote(me),
    });
  },

  /**
   * wx.getUserProfile → updateProfile. updateProfileFromWeChat() is called before any await: WeChat only lets
   * getUserProfile run inside the tap.
   */
  async onSyncFromWeChat() {
    if (this.data.busy) return;
    const updating = updateProfileFromWeChat();
    this.setData({ busy: true, message: '' });
    try {
      this.show(await updating);
      showToast('资料已更新', 'success');
    } catch (err) {
      // The client logged in again after WECHAT_DECRYPT_FAILED, but on a phone the retry's getUserProfile is no
      // longer inside the tap: one more tap succeeds on the fresh session.
      this.setData({ message: isTapGestureError(err) ? '登录已刷新，请再点一次“从微信同步”' : describeError(err) });
    } finally {
      this.setData({ busy: false });
    }
  },

  /**
   * <button open-type="chooseAvatar">: a temporary file on this phone, uploaded at once and never kept. The new
   * avatar shows only once WeChat's image check passes it, so the page asks the server a few times (bounded).
   */
  async onChooseAvatar(e: WechatMiniprogram.CustomEvent<{ avatarUrl: string }>) {
    const tempFilePath = e.detail.avatarUrl;
    if (!tempFilePath || this.data.avatarBusy) return;
    this.setData({ avatarBusy: true, fillInMessage: '' });
    let submitted: User;
    try {
      submitted = await saveAvatar(tempFilePath);
    } catch (err) {
      return this.setData({ avatarBusy: false, fillInMessage: describeError(err) });
    }
    // Not busy while the review runs: the user may pick another avatar meanwhile.
    this.show(submitted);
    this.setData({ avatarBusy: false });
    this.show(
      await waitForAvatarReview(submitted, {
        intervalMs: config.avatarReviewPollIntervalMs,
        polls: config.avatarReviewPolls,
      }),
    );
  },

  /** <input type="nickname">: WeChat reviews a typed or chosen nickname after blur. */
  onNicknameReview(e: WechatMiniprogram.CustomEvent<{ pass: boolean; timeout: boolean }>) {
    this.setData({ nicknameAllowed: e.detail.pass || e.detail.timeout });
  },

  /** The form, not bindinput: choosing the WeChat nickname from the keyboard fires no input event on every version. */
  async onSaveNickname(e: WechatMiniprogram.FormSubmit) {
    if (this.data.nicknameBusy) return;
    const nickname = String(e.detail.value.nickname ?? '').trim();
    if (!nickname) return this.setData({ fillInMessage: '请填写昵称' });
    if (!this.data.nicknameAllowed) return this.setData({ fillInMessage: '该昵称未通过微信审核，请换一个' });
    this.setData({ nicknameBusy: true, fillInMessage: '' });
    try {
      this.show(await saveNickname(nickname));
      showToast('昵称已保存', 'success');
    } catch (err) {
      this.setData({ fillInMessage: describeNicknameError(err) });
    } finally {
      this.setData({ nicknameBusy: false });
    }
  },

  /** <button open-type="getPhoneNumber">: a one-time code when the user allowed it, exchanged by the server. */
  async onGetPhoneNumber(e: WechatMiniprogram.CustomEvent<PhoneNumberDetail>) {
    if (this.data.phoneBusy) return;
    this.setData({ phoneBusy: true, phoneMessage: '' });
    try {
      const bound = await bindPhone(e.detail);
      if (bound.ok) {
        this.show(bound.me);
        showToast('手机号已绑定', 'success');
      } else {
        this.setData({
          phoneMessage: bound.reason === 'failed' ? `微信接口失败：${bound.errMsg}` : PHONE_REFUSED[bound.reason],
        });
      }
    } catch (err) {
      this.setData({
        phoneMessage:
          err instanceof ApiError && err.code === 'WECHAT_CODE_INVALID'
            ? '手机号授权已失效，请重新点击获取手机号'
            : describeError(err),
      });
    } finally {
      this.setData({ phoneBusy: false });
    }
  },
});
