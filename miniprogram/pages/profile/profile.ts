import { describeError } from '../../lib/messages';
import { loadDraft, loadMe, saveDraft, updateProfileFromWeChat, type FillInDraft, type User } from '../../lib/profile';
import { showToast } from '../../lib/ui';
import { isTapGestureError } from '../../lib/wx-async';

const GENDERS = ['未知', '男', '女'];

interface ProfileData {
  me: User | null;
  gender: string;
  loading: boolean;
  busy: boolean;
  message: string;
  draft: FillInDraft;
  /** false when WeChat's review of the nickname refused it (bindnicknamereview). */
  nicknameAllowed: boolean;
}

const data: ProfileData = {
  me: null,
  gender: '',
  loading: true,
  busy: false,
  message: '',
  draft: { avatarUrl: '', nickname: '' },
  nicknameAllowed: true,
};

Page({
  data,

  async onLoad() {
    this.setData({ draft: loadDraft() });
    try {
      this.show(await loadMe());
    } catch (err) {
      this.setData({ message: describeError(err) });
    } finally {
      this.setData({ loading: false });
    }
  },

  show(me: User) {
    this.setData({ me, gender: GENDERS[me.gender ?? 0] ?? GENDERS[0] });
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

  /** <button open-type="chooseAvatar">: a temporary file path on the phone. */
  onChooseAvatar(e: WechatMiniprogram.CustomEvent<{ avatarUrl: string }>) {
    this.setData({ 'draft.avatarUrl': e.detail.avatarUrl });
  },

  /** <input type="nickname">: WeChat reviews a typed or chosen nickname after blur. */
  onNicknameReview(e: WechatMiniprogram.CustomEvent<{ pass: boolean; timeout: boolean }>) {
    this.setData({ nicknameAllowed: e.detail.pass || e.detail.timeout });
  },

  /** The form, not bindinput: choosing the WeChat nickname from the keyboard fires no input event on every version. */
  onSaveFillIn(e: WechatMiniprogram.FormSubmit) {
    const nickname = String(e.detail.value.nickname ?? '').trim();
    if (!nickname) return this.setData({ message: '请填写昵称' });
    if (!this.data.nicknameAllowed) return this.setData({ message: '该昵称未通过微信审核，请换一个' });
    const draft: FillInDraft = { avatarUrl: this.data.draft.avatarUrl, nickname };
    // The server has no mutation for these yet; until it does they stay on this phone.
    saveDraft(draft);
    this.setData({ draft, message: '' });
    showToast('已保存在本机', 'none');
  },
});
