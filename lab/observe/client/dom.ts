/** DOM helpers shared by the dashboard's parts. Text from the run is only ever set as text, never as HTML. */

/** The page's element with this id; the page (../dashboard-page.ts) always has it. */
export function byId(doc: Document, id: string): HTMLElement {
  const found = doc.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found;
}

/** Sets the text of the first element under `root` that matches `selector`, if any. */
export function setText(root: ParentNode, selector: string, text: string): void {
  const found = root.querySelector(selector);
  if (found !== null) found.textContent = text;
}
