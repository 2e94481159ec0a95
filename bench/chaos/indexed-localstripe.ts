import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureLocalstripe, startStripeEmulator, type StripeEmulator } from '../../scripts/stripe-emulator';

/**
 * localstripe answers as Stripe does, but its cost grows with everything it holds: it pickles its
 * whole store to /tmp after every change, and every list (the refunds of each charge it exports
 * included) scans the whole store. At a thousand PaymentIntents a charge takes 200 ms and listing a
 * customer's intents 10 s, past the gateway's 20 s timeout once the machine is busy: the retries
 * that follow make it slower still, and the run measures the emulator instead of the billing code.
 * Stripe itself answers a list by customer from an index. So the chaos run starts the same pinned
 * localstripe with two changes that alter no answer: nothing is written to disk (the emulator starts
 * from scratch and never loads it back), and the store keeps its objects by type too, which lists
 * read in the same order the full scan gave.
 */
const PATCH = `
import runpy

import localstripe.resources as resources
from localstripe.errors import UserError


class IndexedStore(resources.Store):
    def dump_to_disk(self):
        pass

    def bucket(self, key):
        return self.__dict__.setdefault('by_type', {}).setdefault(key.split(':', 1)[0], {})

    def __setitem__(self, key, value):
        dict.__setitem__(self, key, value)
        self.bucket(key)[key] = value

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        self.bucket(key).pop(key, None)

    def clear(self):
        dict.clear(self)
        self.__dict__['by_type'] = {}


resources.store.__class__ = IndexedStore
for existing_key, existing in list(resources.store.items()):
    resources.store.bucket(existing_key)[existing_key] = existing


def list_all(cls, url, limit=None, starting_after=None, **kwargs):
    if kwargs:
        raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
    li = resources.List(url, limit=limit, starting_after=starting_after)
    li._list = list(resources.store.__dict__.get('by_type', {}).get(cls.object, {}).values())
    return li


resources.StripeObject._api_list_all = classmethod(list_all)
runpy.run_module('localstripe', run_name='__main__', alter_sys=True)
`;

/**
 * The Stripe emulator (localstripe behind its front) with the store indexed, or as it is when the
 * venv's Python cannot be found (LOCALSTRIPE_PATH names another executable); `indexed` says which.
 */
export async function startIndexedStripeEmulator(options: { workDir: string; port: number; logFile: string }): Promise<{ emulator: StripeEmulator; indexed: boolean }> {
  const script = await ensureLocalstripe();
  const python = /^exec '([^']+)' -m localstripe/m.exec(await readFile(script, 'utf8').catch(() => ''))?.[1];
  if (!python) return { emulator: await startStripeEmulator({ port: options.port, logFile: options.logFile }), indexed: false };
  const patch = join(options.workDir, 'localstripe_indexed.py');
  const wrapper = join(options.workDir, 'localstripe-indexed');
  await writeFile(patch, PATCH);
  await writeFile(wrapper, `#!/bin/sh\nexec '${python}' '${patch}' "$@"\n`);
  await chmod(wrapper, 0o755);
  // ensureLocalstripe reads LOCALSTRIPE_PATH; set only while this emulator starts.
  const before = process.env.LOCALSTRIPE_PATH;
  process.env.LOCALSTRIPE_PATH = wrapper;
  try {
    return { emulator: await startStripeEmulator({ port: options.port, logFile: options.logFile }), indexed: true };
  } finally {
    if (before === undefined) delete process.env.LOCALSTRIPE_PATH;
    else process.env.LOCALSTRIPE_PATH = before;
  }
}
