/**
 * `workers/main.ts` as `npm run worker` runs it, with the memory probe in its main thread. The probe
 * is imported here rather than preloaded with --import: worker threads inherit the process's
 * preloads, and the SDK's workflow thread cannot load a TypeScript file.
 */
import './memory-probe';
import '../../workers/main';
