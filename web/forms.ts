import type { Request } from 'express';
import { html, type Fragment, type Html } from './html';

/** An API refusal as a page shows it: the message, next to the field its `param` names. */
export interface Refusal {
  message: string;
  code?: string;
  param?: string;
}

/** The refusal in an API error body (`{ error: { message, code, param } }`), or a generic one. */
export function refusalOf(body: unknown, status?: number): Refusal {
  const error = (body as { error?: { message?: unknown; code?: unknown; param?: unknown } } | undefined)?.error;
  if (error && typeof error.message === 'string') {
    return { message: error.message, ...(typeof error.code === 'string' ? { code: error.code } : {}), ...(typeof error.param === 'string' ? { param: error.param } : {}) };
  }
  return { message: `The API answered ${status ?? 'with an error'}; nothing was changed.` };
}

/** The submitted fields, trimmed, without the form's guards and without the empty ones (absent, as the API reads them). */
export function formValues(req: Request): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
    if (name.startsWith('_') || typeof value !== 'string') continue;
    const trimmed = value.trim();
    if (trimmed !== '') values[name] = trimmed;
  }
  return values;
}

const names = (refusal: Refusal | null | undefined, name: string): boolean =>
  !!refusal?.param && (refusal.param === name || refusal.param.startsWith(`${name}.`) || refusal.param.startsWith(`${name}[`));

export interface FieldOptions {
  label: string;
  name: string;
  value?: string | null;
  type?: 'text' | 'email' | 'number' | 'date' | 'datetime-local' | 'password' | 'textarea' | 'select' | 'checkbox';
  required?: boolean;
  hint?: Fragment;
  placeholder?: string;
  /** For a select: [value, label] pairs. */
  options?: Array<[string, string]>;
  refusal?: Refusal | null;
  /** Any other attributes, written as they are (step, min, autofocus). */
  attributes?: Record<string, string | boolean>;
}

/** A labelled input with its hint, and the API's refusal under it when the refusal names this field. */
export function field(o: FieldOptions): Html {
  const id = `f-${o.name.replace(/[^a-z0-9_-]/gi, '-')}`;
  const refused = names(o.refusal, o.name);
  const extra = Object.entries(o.attributes ?? {}).map(([k, v]) => (v === true ? html` ${k}` : v === false ? '' : html` ${k}="${v}"`));
  const common = html`id="${id}" name="${o.name}"${o.required ? html` required` : ''}${refused ? html` aria-invalid="true"` : ''}${o.placeholder ? html` placeholder="${o.placeholder}"` : ''}${extra}`;
  let control: Html;
  if (o.type === 'textarea') control = html`<textarea ${common}>${o.value ?? ''}</textarea>`;
  else if (o.type === 'select') control = html`<select ${common}>${(o.options ?? []).map(([v, l]) => html`<option value="${v}"${v === (o.value ?? '') ? html` selected` : ''}>${l}</option>`)}</select>`;
  else if (o.type === 'checkbox') control = html`<input type="checkbox" value="true" ${common}${o.value === 'true' ? html` checked` : ''}>`;
  else control = html`<input type="${o.type ?? 'text'}" value="${o.value ?? ''}" ${common}>`;
  return html`<div class="field${refused ? ' field-refused' : ''}${o.type === 'checkbox' ? ' field-check' : ''}">
  <label for="${id}">${o.label}</label>${control}
  ${o.hint ? html`<p class="hint">${o.hint}</p>` : ''}
  ${refused ? html`<p class="refusal" role="alert">${o.refusal!.message}</p>` : ''}
</div>`;
}

/** The refusal at the top of a form, unless one of the form's fields shows it. */
export function refusalBanner(refusal: Refusal | null | undefined, fields: string[] = []): Html {
  if (!refusal || fields.some((name) => names(refusal, name))) return html``;
  return html`<div class="banner banner-refusal" role="alert"><strong>Refused:</strong> ${refusal.message}${refusal.code ? html` <code>${refusal.code}</code>` : ''}</div>`;
}
