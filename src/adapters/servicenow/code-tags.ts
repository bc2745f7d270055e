/**
 * ServiceNow renders `[code]…[/code]` in journal fields (Additional comments, Work notes) and in other text fields
 * as raw HTML on instances where `glide.ui.security.allow_codetag` is true: a customer's
 * `[code]<a href=…><img src=…>[/code]` would become a live link and a tracking pixel in the agent's form (issue 17.8).
 * Everything the bridge writes into a record goes through `neutraliseCodeTags`: each tag, in any case and with any
 * spacing (`[ CODE ]`, `[/ code]`), gets full-width brackets (`［code］`), which the agent reads the same and no
 * instance treats as a tag. Nothing else in the text changes.
 */

const CODE_TAG = /\[(\s*\/?\s*code\s*)\]/gi;

export function neutraliseCodeTags(text: string): string {
  return text.includes('[') ? text.replace(CODE_TAG, '［$1］') : text;
}

/** The fields of a Table API write with every value passed through `neutraliseCodeTags`. */
export function withoutCodeTags(fields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, neutraliseCodeTags(value)]));
}
