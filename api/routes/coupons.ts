import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { createCoupon, listCoupons } from '../../services/catalog';
import { couponOf } from '../../services/lookups';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { listUrl, pageOf } from '../lists';
import { CreateCouponBody, ListCouponsQuery } from '../schemas/coupons';
import { couponJson, listJson } from '../serializers';
import { parse } from '../validation';

/** Coupons; a customer's are applied with POST /v1/customers/:id/applied_coupons. */
export function couponsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/', allow('admin'), async (req, res) => {
    const body = parse(CreateCouponBody, req.body);
    const coupon = await createCoupon(em(), {
      code: body.code,
      name: body.name,
      percentOff: body.percent_off,
      amountOff: body.amount_off,
      currency: body.currency,
      duration: body.duration,
      durationPeriods: body.duration_periods,
    });
    res.status(201).json(couponJson(coupon));
  });

  router.get('/', async (req, res) => {
    const query = parse(ListCouponsQuery, req.query);
    res.json(listJson(listUrl(req), await listCoupons(em(), pageOf(query)), couponJson));
  });

  router.get('/:code', async (req, res) => {
    res.json(couponJson(await couponOf(em(), String(req.params.code))));
  });

  return router;
}
