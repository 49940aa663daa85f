/**
 * Slack's Block Kit limits (see the platform rules in the repo's Slack fixtures README). Slack
 * rejects a whole message (`invalid_blocks`) when one piece is too long, so renderers fit text to
 * these numbers and tests walk every rendered surface with `blockKitProblems`. Lengths are counted
 * in UTF-16 code units, which is never less than what Slack counts.
 */
export const LIMITS = {
  blocksPerMessage: 50,
  blocksPerView: 100,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  headerText: 150,
  contextElements: 10,
  contextText: 3000,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  actionId: 255,
  blockId: 255,
  options: 100,
  optionText: 75,
  optionValue: 150,
  inputLabel: 2000,
  inputHint: 2000,
  placeholder: 150,
  viewTitle: 24,
  viewSubmit: 24,
  viewClose: 24,
  privateMetadata: 3000,
  callbackId: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** Slack cuts `text` at 40,000 characters; the fallback stays far shorter (it feeds notifications). */
  messageText: 3000,
} as const;

type Json = Record<string, unknown>;

/** The surface a list of blocks is shown on; each has its own block budget. */
export type Surface = 'message' | 'modal' | 'home';

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Walks a surface's blocks and names every limit it breaks; an empty list means Slack accepts it. */
export function blockKitProblems(blocks: unknown[], surface: Surface = 'message'): string[] {
  const problems: string[] = [];
  const seenActionIds = new Set<string>();
  const seenBlockIds = new Set<string>();
  const max = surface === 'message' ? LIMITS.blocksPerMessage : LIMITS.blocksPerView;
  if (blocks.length > max) problems.push(`${blocks.length} blocks (at most ${max})`);

  const text = (where: string, value: unknown, limit: number, kind?: 'plain_text') => {
    if (!isObject(value) || typeof value.text !== 'string') {
      problems.push(`${where}: missing text object`);
      return;
    }
    if (kind && value.type !== kind) problems.push(`${where}: must be ${kind}`);
    if (value.text.length === 0) problems.push(`${where}: empty text`);
    if (value.text.length > limit)
      problems.push(`${where}: text of ${value.text.length} chars (at most ${limit})`);
  };
  const string = (where: string, value: unknown, limit: number) => {
    if (typeof value === 'string' && value.length > limit)
      problems.push(`${where}: ${value.length} chars (at most ${limit})`);
  };
  const element = (where: string, el: unknown) => {
    if (!isObject(el)) return problems.push(`${where}: not an object`);
    if (typeof el.action_id === 'string') {
      string(`${where}.action_id`, el.action_id, LIMITS.actionId);
      if (seenActionIds.has(el.action_id))
        problems.push(`${where}: duplicate action_id ${el.action_id}`);
      seenActionIds.add(el.action_id);
    }
    if (el.type === 'button') {
      text(`${where}.text`, el.text, LIMITS.buttonText, 'plain_text');
      string(`${where}.value`, el.value, LIMITS.buttonValue);
      string(`${where}.url`, el.url, LIMITS.buttonUrl);
    }
    if (el.placeholder !== undefined)
      text(`${where}.placeholder`, el.placeholder, LIMITS.placeholder, 'plain_text');
    const options = list(el.options);
    if (options.length > LIMITS.options)
      problems.push(`${where}: ${options.length} options (at most ${LIMITS.options})`);
    options.forEach((option, i) => {
      if (!isObject(option)) return;
      text(`${where}.options[${i}].text`, option.text, LIMITS.optionText);
      string(`${where}.options[${i}].value`, option.value, LIMITS.optionValue);
    });
    if (isObject(el.confirm)) {
      text(`${where}.confirm.title`, el.confirm.title, LIMITS.confirmTitle, 'plain_text');
      text(`${where}.confirm.text`, el.confirm.text, LIMITS.confirmText);
      text(`${where}.confirm.confirm`, el.confirm.confirm, LIMITS.confirmButton, 'plain_text');
      text(`${where}.confirm.deny`, el.confirm.deny, LIMITS.confirmButton, 'plain_text');
    }
  };

  blocks.forEach((block, i) => {
    const where = `blocks[${i}]`;
    if (!isObject(block)) return problems.push(`${where}: not an object`);
    if (typeof block.block_id === 'string') {
      string(`${where}.block_id`, block.block_id, LIMITS.blockId);
      if (seenBlockIds.has(block.block_id))
        problems.push(`${where}: duplicate block_id ${block.block_id}`);
      seenBlockIds.add(block.block_id);
    }
    switch (block.type) {
      case 'header':
        return text(`${where}.text`, block.text, LIMITS.headerText, 'plain_text');
      case 'section': {
        const fields = list(block.fields);
        if (block.text === undefined && fields.length === 0)
          problems.push(`${where}: needs text or fields`);
        if (block.text !== undefined) text(`${where}.text`, block.text, LIMITS.sectionText);
        if (fields.length > LIMITS.fields)
          problems.push(`${where}: ${fields.length} fields (at most ${LIMITS.fields})`);
        fields.forEach((f, j) => text(`${where}.fields[${j}]`, f, LIMITS.fieldText));
        if (block.accessory !== undefined) element(`${where}.accessory`, block.accessory);
        return;
      }
      case 'context': {
        const elements = list(block.elements);
        if (elements.length === 0 || elements.length > LIMITS.contextElements)
          problems.push(`${where}: ${elements.length} elements (1 to ${LIMITS.contextElements})`);
        elements.forEach((e, j) => {
          if (isObject(e) && e.type !== 'image')
            text(`${where}.elements[${j}]`, e, LIMITS.contextText);
        });
        return;
      }
      case 'actions': {
        const elements = list(block.elements);
        if (elements.length === 0 || elements.length > LIMITS.actionsElements)
          problems.push(`${where}: ${elements.length} elements (1 to ${LIMITS.actionsElements})`);
        elements.forEach((e, j) => element(`${where}.elements[${j}]`, e));
        return;
      }
      case 'input':
        text(`${where}.label`, block.label, LIMITS.inputLabel, 'plain_text');
        if (block.hint !== undefined)
          text(`${where}.hint`, block.hint, LIMITS.inputHint, 'plain_text');
        return element(`${where}.element`, block.element);
      case 'divider':
        return;
      default:
        problems.push(`${where}: unchecked block type ${String(block.type)}`);
    }
  });
  return problems;
}

/** Also checks the view's own fields (title, buttons, metadata) for modals and the Home tab. */
export function viewProblems(view: Json): string[] {
  const problems = blockKitProblems(list(view.blocks), view.type === 'home' ? 'home' : 'modal');
  const plain = (key: string, limit: number) => {
    const value = view[key];
    if (value === undefined) return;
    if (!isObject(value) || typeof value.text !== 'string' || value.type !== 'plain_text')
      return problems.push(`view.${key}: must be a plain_text object`);
    if (value.text.length === 0 || value.text.length > limit)
      problems.push(`view.${key}: ${value.text.length} chars (1 to ${limit})`);
  };
  plain('title', LIMITS.viewTitle);
  plain('submit', LIMITS.viewSubmit);
  plain('close', LIMITS.viewClose);
  const metadata = view.private_metadata;
  if (typeof metadata === 'string' && metadata.length > LIMITS.privateMetadata)
    problems.push(`view.private_metadata: ${metadata.length} chars`);
  const callbackId = view.callback_id;
  if (typeof callbackId === 'string' && callbackId.length > LIMITS.callbackId)
    problems.push(`view.callback_id: ${callbackId.length} chars`);
  if (view.type === 'modal' && view.submit === undefined && hasInput(list(view.blocks)))
    problems.push('view.submit: required when the modal has input blocks');
  return problems;
}

function hasInput(blocks: unknown[]): boolean {
  return blocks.some((b) => isObject(b) && b.type === 'input');
}
