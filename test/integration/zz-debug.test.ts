import { createTestDatabase } from '../support/database';
import { devServer } from '../support/temporal';
const say = (m: string) => process.stderr.write(`DEBUG ${new Date().toISOString()} ${m}\n`);
it('debug', async () => {
  say('start');
  const db = await createTestDatabase();
  say('db');
  const t = await devServer();
  say('dev');
  await t.close();
  say('closed');
  await db.drop();
  say('dropped');
});
