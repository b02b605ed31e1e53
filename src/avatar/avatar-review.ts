import { registerEnumType } from 'type-graphql';

/** Where WeChat's image check (media_check_async) stands on the avatar a user last submitted with setProfile. */
export enum AvatarReview {
  PENDING = 'PENDING',
  PASSED = 'PASSED',
  REJECTED = 'REJECTED',
}

registerEnumType(AvatarReview, {
  name: 'AvatarReview',
  description:
    "WeChat's image check (media_check_async) of the avatar last submitted with setProfile: the result is pushed to this server's /wechat/push within minutes (WeChat allows up to 30).",
  valuesConfig: {
    PENDING: { description: 'Submitted, no result yet: User.avatarUrl still shows the previous avatar.' },
    PASSED: { description: 'WeChat passed it: it is User.avatarUrl now.' },
    REJECTED: {
      description:
        'WeChat did not pass it (risky, or held for review): it is never shown, and User.avatarUrl keeps the previous avatar. Upload another.',
    },
  },
});
