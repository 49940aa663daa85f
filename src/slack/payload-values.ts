import { z } from 'zod';

/**
 * What Hallpass reads back from Slack payloads besides the signed user: ids in button values,
 * modal metadata and modal inputs. None of it says who is acting; listeners take that from the
 * signed payload's user.
 */

export const requestIdSchema = z.string().regex(/^req_[0-9a-z]{10}$/);
export const grantIdSchema = z.string().regex(/^gr_[0-9a-z]{10}$/);

export const requestModalMetadata = z.strictObject({ fromHome: z.boolean() });
export const denyModalMetadata = z.strictObject({
  requestId: requestIdSchema,
  fromHome: z.boolean(),
});
export const extendModalMetadata = z.strictObject({
  grantId: grantIdSchema,
  fromHome: z.boolean(),
});
export const reviewModalMetadata = z.strictObject({
  requestId: requestIdSchema,
  verdict: z.enum(['reviewed', 'flagged']),
});
export type ReviewModalMetadata = z.infer<typeof reviewModalMetadata>;
export type RequestModalMetadata = z.infer<typeof requestModalMetadata>;
export type DenyModalMetadata = z.infer<typeof denyModalMetadata>;
export type ExtendModalMetadata = z.infer<typeof extendModalMetadata>;

/** Parses JSON text against `schema`; undefined for anything else (malformed or foreign). */
export function parseJson<T>(schema: z.ZodType<T>, text: string | undefined): T | undefined {
  if (!text) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const inputState = z.looseObject({
  value: z.string().nullish(),
  selected_option: z.looseObject({ value: z.string() }).nullish(),
  /** A timepicker's `HH:mm`. */
  selected_time: z.string().nullish(),
  selected_options: z.array(z.looseObject({ value: z.string() })).nullish(),
});
const viewState = z.record(z.string(), z.record(z.string(), inputState));
export type ViewStateValues = z.infer<typeof viewState>;

/** A modal's `state.values`, or an empty record when it does not have the expected shape. */
export function readViewState(values: unknown): ViewStateValues {
  const parsed = viewState.safeParse(values);
  return parsed.success ? parsed.data : {};
}

/** The text typed or the option chosen in one input; undefined when left empty. */
export function inputValue(
  values: ViewStateValues,
  blockId: string,
  actionId: string,
): string | undefined {
  const input = values[blockId]?.[actionId];
  return input?.selected_option?.value ?? input?.selected_time ?? input?.value ?? undefined;
}

/** Whether the option `value` of a checkboxes input is ticked. */
export function isChecked(
  values: ViewStateValues,
  blockId: string,
  actionId: string,
  value: string,
): boolean {
  return values[blockId]?.[actionId]?.selected_options?.some((o) => o.value === value) ?? false;
}
