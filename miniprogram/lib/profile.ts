import {
  BindPhoneNumberDocument,
  MeDocument,
  SetProfileDocument,
  UpdateProfileDocument,
  type UserFieldsFragment,
} from '../gql/graphql';
import { uploadAvatar } from './avatar';
import { request } from './client';
import { getUserProfile, phoneCode, type PhoneButton, type PhoneNumberDetail } from './wx-async';

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

/** chooseAvatar's temporary file → POST /avatar → setProfile(avatarUrl) with the URL the server issued. */
export async function saveAvatar(tempFilePath: string): Promise<User> {
  const avatarUrl = await uploadAvatar(tempFilePath);
  return (await request(SetProfileDocument, { avatarUrl })).setProfile;
}

export type PhoneBind = { ok: true; me: User } | Extract<PhoneButton, { ok: false }>;

/** The getPhoneNumber button's event → bindPhoneNumber(code); a button that gave no code sends nothing. */
export async function bindPhone(detail: PhoneNumberDetail): Promise<PhoneBind> {
  const button = await phoneCode(detail);
  if (!button.ok) return button;
  return { ok: true, me: (await request(BindPhoneNumberDocument, { code: button.code })).bindPhoneNumber };
}
