import { MeDocument, UpdateProfileDocument, type UserFieldsFragment } from '../gql/graphql';
import { request } from './client';
import { getUserProfile } from './wx-async';

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

/**
 * What the avatar-and-nickname fill-in gave. It stays on the phone: the server has no mutation for it yet
 * (docs/mini-program.md).
 */
export interface FillInDraft {
  avatarUrl: string;
  nickname: string;
}

const DRAFT_KEY = 'wxmp.profileDraft';

export function loadDraft(): FillInDraft {
  const value: unknown = wx.getStorageSync(DRAFT_KEY);
  const d = (value && typeof value === 'object' ? value : {}) as Partial<FillInDraft>;
  return { avatarUrl: d.avatarUrl ?? '', nickname: d.nickname ?? '' };
}

export function saveDraft(draft: FillInDraft) {
  wx.setStorageSync(DRAFT_KEY, draft);
}
