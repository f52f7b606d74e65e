/**
 * The contact sheet's stylesheet, inlined into every page (no external fonts or files). System
 * fonts; a single column on narrow screens, inputs and outputs side by side from 760px; a
 * print layout that drops colours behind text, keeps each stage on one page where it fits and
 * spells out where links lead.
 */
export const CONTACT_SHEET_CSS = `
:root {
  --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; --card: #ffffff;
  --ok: #1a7f37; --ok-bg: #dafbe1; --cached: #0969da; --cached-bg: #ddf4ff;
  --fail: #cf222e; --fail-bg: #ffebe9; --skip: #6e7781; --skip-bg: #eaeef2;
  --notrun: #9a6700; --notrun-bg: #fff8c5;
  --thumb: 160px;
  color-scheme: light;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12px; }
a { color: #0969da; }
.page { max-width: 1280px; margin: 0 auto; padding: 16px 20px 40px; }
.run-header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 16px; margin-bottom: 8px; }
.run-header h1 { margin: 0; font-size: 22px; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0 0 12px; padding: 0; list-style: none; color: var(--muted); }
.facts b { color: var(--fg); font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.st-succeeded { color: var(--ok); } .st-cached { color: var(--cached); } .st-failed { color: var(--fail); }
.st-skipped { color: var(--skip); } .st-not-run, .st-interrupted, .st-running, .st-unknown { color: var(--notrun); }
.badge.st-succeeded { background: var(--ok-bg); } .badge.st-cached { background: var(--cached-bg); }
.badge.st-failed { background: var(--fail-bg); } .badge.st-skipped { background: var(--skip-bg); }
.badge.st-not-run, .badge.st-interrupted, .badge.st-running, .badge.st-unknown { background: var(--notrun-bg); }
.chip { display: inline-block; padding: 0 6px; border-radius: 4px; background: var(--bg); border: 1px solid var(--line); font-size: 12px; color: var(--muted); }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 12px 0; }
.panel > h2 { margin: 0 0 8px; font-size: 16px; }
.dag-scroll { overflow-x: auto; }
.dag svg { display: block; max-width: 100%; height: auto; }
.dag .node rect { stroke-width: 1.5; }
.dag .node text { font: 12px system-ui, sans-serif; fill: var(--fg); }
.dag .node .model { font: 10.5px ui-monospace, Menlo, Consolas, monospace; fill: var(--muted); }
.dag .node .state { font-size: 10.5px; font-weight: 600; }
.dag .edge { fill: none; stroke: #8c959f; stroke-width: 1.5; }
.dag .n-succeeded rect { fill: var(--ok-bg); stroke: var(--ok); } .dag .n-succeeded .state { fill: var(--ok); }
.dag .n-cached rect { fill: var(--cached-bg); stroke: var(--cached); } .dag .n-cached .state { fill: var(--cached); }
.dag .n-failed rect { fill: var(--fail-bg); stroke: var(--fail); } .dag .n-failed .state { fill: var(--fail); }
.dag .n-skipped rect { fill: var(--skip-bg); stroke: var(--skip); } .dag .n-skipped .state { fill: var(--skip); }
.dag .n-not-run rect { fill: var(--notrun-bg); stroke: var(--notrun); } .dag .n-not-run .state { fill: var(--notrun); }
.note { color: var(--muted); font-size: 12px; margin: 6px 0 0; }
.stage { background: var(--card); border: 1px solid var(--line); border-left: 5px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 16px 0; }
.stage.st-succeeded { border-left-color: var(--ok); } .stage.st-cached { border-left-color: var(--cached); }
.stage.st-failed { border-left-color: var(--fail); } .stage.st-skipped { border-left-color: var(--skip); }
.stage.st-not-run { border-left-color: var(--notrun); }
.stage, .stage * { color: inherit; }
.stage { color: var(--fg); }
.stage-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 12px; }
.stage-head h2 { margin: 0; font-size: 18px; }
.stage-head .model { color: var(--muted); }
.stage-facts { display: flex; flex-wrap: wrap; gap: 2px 16px; margin: 6px 0 10px; padding: 0; list-style: none; color: var(--muted); font-size: 13px; }
.error { border: 1px solid var(--fail); background: var(--fail-bg); border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
.error b { color: var(--fail); }
.error pre { margin: 6px 0 0; white-space: pre-wrap; word-break: break-word; max-height: 16em; overflow: auto; }
.io { display: grid; grid-template-columns: 1fr; gap: 12px; }
@media (min-width: 760px) { .io { grid-template-columns: minmax(0, 1fr) auto minmax(0, 1fr); align-items: start; } }
.io > .arrow { align-self: center; font-size: 22px; color: var(--muted); text-align: center; }
.io h3 { margin: 0 0 6px; font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; }
.tile { margin: 0; width: var(--thumb); }
.tile .frame { display: flex; align-items: center; justify-content: center; width: var(--thumb); height: var(--thumb); background: repeating-conic-gradient(#eef1f4 0 25%, #fff 0 50%) 0 0 / 16px 16px; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
.tile img, .tile video { max-width: 100%; max-height: 100%; width: auto; height: auto; object-fit: contain; display: block; }
.tile img.tiny { width: 100%; height: 100%; object-fit: cover; image-rendering: pixelated; }
.tile figcaption { font-size: 11.5px; color: var(--muted); margin-top: 3px; overflow-wrap: anywhere; }
.tile .remote { flex-direction: column; gap: 4px; padding: 8px; text-align: center; font-size: 12px; background: var(--bg); overflow-wrap: anywhere; }
.tile .remote .kind { font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
.prompt { margin: 8px 0; padding: 6px 10px; border-left: 3px solid var(--line); background: var(--bg); white-space: pre-wrap; overflow-wrap: anywhere; }
.params { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0 0; font-size: 12.5px; }
.params dt { color: var(--muted); } .params dd { margin: 0; overflow-wrap: anywhere; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(calc(var(--thumb) + 26px), 1fr)); gap: 10px; margin-top: 8px; }
.item { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 6px; background: var(--card); min-width: 0; }
.item.st-failed { border-color: var(--fail); background: var(--fail-bg); }
.item .item-head { display: flex; justify-content: space-between; gap: 6px; font-size: 12px; margin-bottom: 4px; }
.item .tiles { gap: 4px; }
.item .tile { --thumb: 150px; }
.item .inputs-mini { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; margin-bottom: 4px; }
.item .inputs-mini .tile { --thumb: 48px; }
.item .inputs-mini figcaption { display: none; }
.item .why { font-size: 11.5px; color: var(--fail); overflow-wrap: anywhere; }
.item .caption { font-size: 11.5px; color: var(--muted); overflow-wrap: anywhere; }
table.attempts { border-collapse: collapse; width: 100%; font-size: 12.5px; margin-top: 6px; }
table.attempts th, table.attempts td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
table.attempts td.msg { overflow-wrap: anywhere; }
details > summary { cursor: pointer; color: var(--muted); margin-top: 8px; }
.consent { margin-top: 10px; font-size: 13px; }
.consent ul { margin: 4px 0; padding-left: 18px; }
pre.mermaid-src { background: var(--bg); padding: 8px; overflow: auto; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
@media print {
  :root { --thumb: 120px; }
  body { background: #fff; font-size: 10pt; }
  .page { max-width: none; padding: 0; }
  .panel, .stage { border-color: #999; break-inside: avoid-page; page-break-inside: avoid; }
  .stage { border-left-width: 4px; }
  .grid { grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); }
  .item { break-inside: avoid; }
  .item .tile { --thumb: 110px; }
  .dag-scroll { overflow: visible; }
  video { display: none; }
  .tile .frame { background: #fff; }
  a { color: inherit; text-decoration: none; }
  a.remote-link::after { content: " (" attr(href) ")"; font-size: 8pt; color: #555; overflow-wrap: anywhere; }
  details > summary { display: none; }
}
`;
