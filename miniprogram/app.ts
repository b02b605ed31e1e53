import { startSession, type LaunchResult } from './lib/session';

export interface AppOption {
  globalData: {
    /** Settles when the launch login check is done; pages may await it, requests need not (they join a login). */
    launch: Promise<LaunchResult | 'failed'>;
  };
}

App<AppOption>({
  globalData: { launch: Promise.resolve('failed') },
  onLaunch() {
    this.globalData.launch = startSession().catch((err: unknown) => {
      // Not fatal: the next request logs in again.
      console.warn('login at launch failed', err);
      return 'failed' as const;
    });
  },
});
