import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { openApiDocument } from '../api/openapi/document';
import { ROOT } from './stack';

/**
 * `npm run generate:client`: the OpenAPI document (as GET /openapi.json serves it) turned into
 * TypeScript types by openapi-typescript, written to client/schema.d.ts for client/index.ts
 * (openapi-fetch). With --check it writes nothing and exits 1 when the committed file is stale.
 */
const SCHEMA_FILE = join(ROOT, 'client', 'schema.d.ts');

async function generatedSchema(): Promise<string> {
  const document = JSON.parse(JSON.stringify(openApiDocument()));
  const ast = await openapiTS(document, { alphabetize: false, exportType: true });
  return `${COMMENT_HEADER.replace('openapi-typescript', 'openapi-typescript from GET /openapi.json (npm run generate:client)')}${astToString(ast)}`;
}

async function main(): Promise<void> {
  const fresh = await generatedSchema();
  if (process.argv.includes('--check')) {
    const committed = await readFile(SCHEMA_FILE, 'utf8').catch(() => '');
    if (committed !== fresh) {
      console.error('client/schema.d.ts is stale: the API changed; run npm run generate:client and commit the result');
      process.exit(1);
    }
    console.log('client/schema.d.ts matches the OpenAPI document');
    return;
  }
  await writeFile(SCHEMA_FILE, fresh);
  console.log(`wrote ${SCHEMA_FILE}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
