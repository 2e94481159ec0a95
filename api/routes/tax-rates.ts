import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { createTaxRate, listTaxRates } from '../../services/catalog';
import { taxRateOf } from '../../services/lookups';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { listUrl, pageOf } from '../lists';
import { CreateTaxRateBody, ListTaxRatesQuery } from '../schemas/tax-rates';
import { listJson, taxRateJson } from '../serializers';
import { parse } from '../validation';

/** Tax rates; a customer's are set with POST /v1/customers/:id/tax_rates. */
export function taxRatesRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/', allow('admin'), async (req, res) => {
    const body = parse(CreateTaxRateBody, req.body);
    res.status(201).json(taxRateJson(await createTaxRate(em(), body)));
  });

  router.get('/', async (req, res) => {
    const query = parse(ListTaxRatesQuery, req.query);
    res.json(listJson(listUrl(req), await listTaxRates(em(), pageOf(query)), taxRateJson));
  });

  router.get('/:code', async (req, res) => {
    res.json(taxRateJson(await taxRateOf(em(), String(req.params.code))));
  });

  return router;
}
