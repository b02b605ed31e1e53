import {
  BindPhoneNumberDocument,
  MeDocument,
  SetProfileDocument,
  UpdateProfileDocument,
  type UserFieldsFragment,
} from '../gql/graphql';
import { uploadAvatar } from './avatar';
import { request } from './client';
import { getUserProfile, phoneCode, sleep, type PhoneButton, type PhoneNumberDetail } from './wx-async';

export type User = UserFieldsFragment;

export async function loadMe(): Promise<User> {
  return (await request(MeDocument)).me;
}

/** What the user sees in WeChat's authorization sheet. */
export const PROFILE_DESC = '用于完善会员资料';

/**
 * wx.getUserProfile → updateProfile. The variables are a function, so a WECHAT_DECRYPT_FAILED retry (after the
 * client's re-login) fetches data sealed with the *new* session_key. Call it from a tap handler without awaiting
 * anything first.
 */
export async function updateProfileFromWeChat(): Promise<User> {
  return (await request(UpdateProfileDocument, () => getUserProfile(PROFILE_DESC))).updateProfile;
}

/** `<input type="nickname">`'s value → setProfile. The server trims it and has WeChat's text check judge it. */
export async function saveNickname(nickname: string): Promise<User> {
  return (await request(SetProfileDocument, { nickname })).setProfile;
}

/**
 * chooseAvatar's temporary file → POST /avatar → setProfile(avatarUrl) with the URL the server issued. The answer is
 * usually avatarReview PENDING, with avatarUrl still the previous avatar: see waitForAvatarReview.
 */
export async function saveAvatar(tempFilePath: string): Promise<User> {
  const avatarUrl = await uploadAvatar(tempFilePath);
  return (await request(SetProfileDocument, { avatarUrl })).setProfile;
}

export interface ReviewPoll {
  intervalMs: number;
  /** How many times me is asked at most; 0 asks nothing. */
  polls: number;
}

/**
 * Asks me until WeChat's image check has settled the avatar (the server learns it by a push), at most `polls` times.
 * Answers the last user seen: still PENDING when the polls ran out. The avatar is already submitted, so a failed
 * poll is no failure of the user's: it only costs one of the polls (and onShow asks again).
 */
export async function waitForAvatarReview(user: User, { intervalMs, polls }: ReviewPoll): Promise<User> {
  let last = user;
  for (let i = 0; i < polls && last.avatarReview === 'PENDING'; i++) {
    await sleep(intervalMs);
    last = await loadMe().catch(() => last);
  }
  return last;
}

/** What the page says about the avatar under WeChat's check; nothing once it passed (or was never submitted). */
export function avatarReviewNote(user: User): string {
  if (user.avatarReview === 'PENDING') return '新头像审核中，通过后显示';
  if (user.avatarReview === 'REJECTED') return '头像未通过审核，请换一张';
  return '';
}

export type PhoneBind = { ok: true; me: User } | Extract<PhoneButton, { ok: false }>;

/** The getPhoneNumber button's event → bindPhoneNumber(code); a button that gave no code sends nothing. */
export async function bindPhone(detail: PhoneNumberDetail): Promise<PhoneBind> {
  const button = await phoneCode(detail);
  if (!button.ok) return button;
  return { ok: true, me: (await request(BindPhoneNumberDocument, { code: button.code })).bindPhoneNumber };
}
