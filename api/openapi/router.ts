import { dirname } from 'node:path';
import express, { Router } from 'express';
import { openApiDocument } from './document';

/**
 * Swagger UI from the swagger-ui-dist package's own files, so the reference works with no internet
 * (docs/api-reference.md says why this package).
 */
const SWAGGER_UI = dirname(require.resolve('swagger-ui-dist/package.json'));

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Perennial billing API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="reference"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
  // validatorUrl: null, or the page would send the document to validator.swagger.io for a badge.
  SwaggerUIBundle({ url: '/openapi.json', dom_id: '#reference', deepLinking: true, validatorUrl: null });
</script>
</body>
</html>
`;

/** GET /openapi.json and the reference page at /docs; neither needs a key. */
export function openApiRouter(): Router {
  const document = JSON.stringify(openApiDocument());
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });
  router.get('/docs', (_req, res) => {
    res.type('text/html').send(PAGE);
  });
  router.use('/docs', express.static(SWAGGER_UI, { index: false, fallthrough: true }));
  return router;
}
