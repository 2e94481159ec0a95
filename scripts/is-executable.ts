import { access, constants, stat } from 'node:fs/promises';

/** A file this process may run: how the scripts tell a tool already fetched or built from one to make. */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
