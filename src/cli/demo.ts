import 'reflect-metadata';
import { runDemo } from '../demo/demo';

runDemo().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err) => {
    console.error('demo crashed:', err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
