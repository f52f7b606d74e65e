/**
 * A small prompt screen: a guard rail, not a classifier. It refuses text that plainly asks for
 * sexually explicit material, or that makes the person in a face swap a child, using short
 * word and phrase lists (documented in docs/consent.md). It will miss paraphrases and it will
 * sometimes refuse an innocent prompt; the answer to a refusal that is wrong is to reword the
 * prompt, and the answer to a miss is the operator's judgement, which no list replaces.
 *
 * The judgement calls, so they are made once and on purpose:
 * - Words about children are refused only when the child is the person being made or swapped
 *   ("as a 10-year-old", "make her look like a child", "swap the face onto the boy"), never for
 *   children as background ("a child's toy in the background", "kids' section", "baby blue").
 * - Any word about children together with any sexual word is refused, whatever the framing.
 * - "lingerie", "swimwear", "bikini", "underwear" and "sexy" are fine for adults (product
 *   categories, advertising words) and refused together with any word about children.
 * - "minor" alone is not refused ("minor retouching"); "a minor" and "minors" are.
 */
export type ScreenReason = 'sexual' | 'minor' | 'sexual-minor';

export type ScreenResult =
  | { readonly refused: false }
  | {
      readonly refused: true;
      readonly reason: ScreenReason;
      /** The words that decided it, as written in the prompt. */
      readonly matched: string;
      /** Where `matched` starts and how long it is, in the original text (UTF-16 units). */
      readonly offset: number;
      readonly length: number;
    };

/** Sexually explicit requests, as whole words on the normalised text. */
const SEXUAL: readonly RegExp[] = [
  /\bnude(s|ity)?\b/,
  /\bnaked\b(?! (eye|cake|truth))/,
  /\btopless\b/,
  /\bbottomless\b/,
  /\bporn(o|ography|ographic)?\b/,
  /\bnsfw\b/,
  /\bxxx\b/,
  /\bhentai\b/,
  /\berotic(a|ally)?\b/,
  /\bsex(ual|ually)?\b/,
  /\bintercourse\b/,
  /\borgasm(s|ic)?\b/,
  /\bmasturbat\w*/,
  /\bgenital(s|ia)?\b/,
  /\bpenis\b/,
  /\bvagina\b/,
  /\bnipples?\b/,
  /\b(bare|exposed) (breasts?|chest)\b/,
  /\bstrip ?tease\b/,
  /\bundress(ed|ing)?\b/,
  /\bnudify\w*/,
  /\bdeep ?nude\w*/,
  /\b(without|wearing no|no) (any )?clothes\b/,
  /\b(remove|removes|removing|take off|taking off|took off) (all |her |his |their |the )?(clothes|clothing)\b/,
  /\b(clothes|clothing) off\b/,
  /\bfetish\w*/,
  /\bbdsm\b/,
  /\bonlyfans\b/,
  /\bblow ?jobs?\b/,
];

/**
 * Suggestive but not explicit: fine for adults in advertising ("a sexy red dress", lingerie and
 * swimwear shots), refused together with any word about children.
 */
const SUGGESTIVE: readonly RegExp[] = [
  /\bsexy\b/,
  /\bseductive(ly)?\b/,
  /\bsensual(ly)?\b/,
  /\bprovocative(ly)?\b/,
  /\bsultry\b/,
  /\blingerie\b/,
  /\bunderwear\b/,
  /\bbikinis?\b/,
  /\bswim ?(wear|suits?)\b/,
];

/** Words that plainly mean a child. "boy" and "girl" alone are not among them (adults are called that too). */
const CHILD =
  '(?:child|children|kid|kids|toddler|toddlers|baby|babies|infant|infants|teen|teens|teenager|teenagers|youngster|youngsters|little one)';

/** Always about a minor, whatever the framing. */
const MINOR_ALWAYS: readonly RegExp[] = [
  /\bunder ?-?aged?\b/,
  /\bpre ?-?teens?\b/,
  /\bprepubescent\b/,
  /\bschool ?(girl|boy)s?\b/,
  /\b(a|the) minor\b/,
  /\bminors\b/,
  /\bjuveniles?\b/,
  /\b(young|little) (girl|boy|child|kid)s?\b/,
  // "a 12-year-old", "13 years old", "aged 9", "age 15": ages below 18.
  /\b([1-9]|1[0-7]) ?-?(year|yr)s? ?-?old\b/,
  /\bage(d)? ([1-9]|1[0-7])\b/,
];

/** Things that belong to children and are fine in a scene: "a child's toy", "the kids' section". */
const BELONGINGS =
  "(?:'s|s'|') ?(?:toy|toys|room|book|books|section|clothes|clothing|shoes|furniture|menu|size|sizes|seat|party|drawing|drawings)";

/** A child as the person made or swapped: "as a child", "look like a kid", "onto the toddler". */
const MINOR_FRAMED: readonly RegExp[] = [
  new RegExp(
    `\\b(as|into|like|become|becomes|resembling|resembles) (a|an|the)? ?(small )?${CHILD}\\b(?!${BELONGINGS})`,
  ),
  new RegExp(`\\b(onto|on to) (a|an|the|this|that)? ?(small )?${CHILD}\\b(?!${BELONGINGS})`),
  new RegExp(
    `\\b(portrait|photo|photograph|picture|image|shot|video|face|faces|head|body) of (a|an|the|two|three|some)? ?(small )?${CHILD}\\b(?!${BELONGINGS})`,
  ),
  new RegExp(`\\b${CHILD}(?:'s|s'|') (face|faces|head|body|likeness|features)\\b`),
  new RegExp(`\\byounger\\b.*\\b${CHILD}\\b(?!${BELONGINGS})`),
];

/** Any word about children, for the sexual-and-child combination. */
const CHILD_ANY = new RegExp(`\\b${CHILD}\\b|\\b(young|little) (girl|boy)s?\\b`);

/**
 * Lower-cases and folds look-alike characters (NFKC: full-width letters, ligatures), drops
 * zero-width characters and turns punctuation runs into single spaces, while keeping a map back
 * to the original offsets so a diagnostic can underline the words as written.
 */
export function normalise(text: string): { folded: string; origin: number[] } {
  let folded = '';
  const origin: number[] = [];
  let lastSpace = true;
  const keepChar = (c: string, at: number) => {
    folded += c;
    // One origin per UTF-16 unit, so folded offsets index it directly (astral letters are two).
    for (let k = 0; k < c.length; k++) origin.push(at);
    lastSpace = false;
  };
  const space = (at: number) => {
    if (lastSpace) return;
    folded += ' ';
    origin.push(at);
    lastSpace = true;
  };
  for (let i = 0; i < text.length;) {
    const code = text.charCodeAt(i);
    // ASCII, the common case, without regular expressions.
    if (code < 0x80) {
      if ((code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x27 || code === 0x2d)
        keepChar(text[i]!, i);
      else if (code >= 0x41 && code <= 0x5a) keepChar(String.fromCharCode(code + 32), i);
      else space(i);
      i += 1;
      continue;
    }
    const point = text.codePointAt(i)!;
    const ch = String.fromCodePoint(point);
    if (/[\u200B-\u200D\u2060\uFEFF\u00AD]/.test(ch)) {
      i += ch.length;
      continue;
    }
    for (const c of ch.normalize('NFKC').toLowerCase()) {
      if (/[\p{L}\p{N}'-]/u.test(c)) keepChar(c === '\u2019' ? "'" : c, i);
      else space(i);
    }
    i += ch.length;
  }
  origin.push(text.length);
  return { folded, origin };
}

/**
 * Each list as one alternation: a regular expression finds its leftmost match, and among
 * alternatives matching at the same place the first listed, which is exactly "the earliest
 * match of any pattern, the first pattern on a tie". One scan per list instead of one per
 * pattern (screening the prompts of a 10,000-stage recipe took a tenth of its analysis).
 */
function anyOf(patterns: readonly RegExp[]): RegExp {
  return new RegExp(patterns.map((p) => `(?:${p.source})`).join('|'));
}
const ANY_SEXUAL = anyOf(SEXUAL);
const ANY_MINOR = anyOf([...MINOR_ALWAYS, ...MINOR_FRAMED]);
/**
 * A word every pattern of {@link ANY_MINOR} needs somewhere in its match (each CHILD word, and
 * under, teen, school, minor, juvenile, young, little, year/yr, age). Compiling ANY_MINOR costs
 * ~4 ms, most of a small recipe's screening, and most prompts contain none of these words.
 * Keep it a superset when the lists change: a pattern whose words are missing here is skipped.
 */
const MINOR_WORDS =
  /child|kid|toddler|bab(?:y|ies)|infant|teen|youngster|little|under|prepubescent|school|minor|juvenile|young|year|yr|\bage/;
const ANY_SUGGESTIVE = anyOf(SUGGESTIVE);

/**
 * {@link normalise}'s folded text alone, for the common all-ASCII prompt: lower case, and every
 * run of other characters one space (none leading). The offsets map is only needed to place a
 * refusal, so it is built then; building it for every prompt was most of screening's memory.
 */
export function fold(text: string): string {
  if (!ASCII.test(text)) return normalise(text).folded;
  const folded = text.toLowerCase().replace(NOT_WORD, ' ');
  return folded.startsWith(' ') ? folded.slice(1) : folded;
}
// eslint-disable-next-line no-control-regex -- every ASCII character, control characters included
const ASCII = /^[\x00-\x7f]*$/;
const NOT_WORD = /[^a-z0-9'-]+/g;

export function screenPrompt(text: string): ScreenResult {
  const written = text.replace(/\u2019/g, "'");
  const folded = fold(written);
  const locate = (match: RegExpExecArray, reason: ScreenReason): ScreenResult => {
    const { origin } = normalise(written);
    const start = origin[match.index] ?? 0;
    const endIndex = match.index + match[0].trimEnd().length;
    const lastAt = origin[Math.max(match.index, endIndex - 1)] ?? start;
    const end = Math.min(text.length, lastAt + ((text.codePointAt(lastAt) ?? 0) > 0xffff ? 2 : 1));
    return { refused: true, reason, matched: text.slice(start, end), offset: start, length: end - start };
  };
  const sexual = ANY_SEXUAL.exec(folded) ?? undefined;
  const minor = MINOR_WORDS.test(folded) ? (ANY_MINOR.exec(folded) ?? undefined) : undefined;
  const childish = minor !== undefined || CHILD_ANY.test(folded);
  if (sexual && childish) return locate(sexual, 'sexual-minor');
  const suggestive = ANY_SUGGESTIVE.exec(folded) ?? undefined;
  if (suggestive && childish) return locate(suggestive, 'sexual-minor');
  if (sexual) return locate(sexual, 'sexual');
  if (minor) return locate(minor, 'minor');
  return { refused: false };
}

/** What a refused prompt asks for, by reason ("asks for sexually explicit content"). */
export function refusalWhat(reason: ScreenReason): string {
  switch (reason) {
    case 'sexual':
      return 'asks for sexually explicit content';
    case 'minor':
      return 'makes the person a child';
    case 'sexual-minor':
      return 'asks for sexual content involving a child';
  }
}

/** Why faceswap-pipe refuses it, by reason. */
export function refusalWhy(reason: ScreenReason): string {
  switch (reason) {
    case 'sexual':
      return "faceswap-pipe does not make sexual material with real people's faces, consent or not";
    case 'minor':
      return 'faceswap-pipe does not swap faces onto, into or as children';
    case 'sexual-minor':
      return 'faceswap-pipe refuses this outright';
  }
}

/** The whole refusal: `asks for sexually explicit content ("topless"); faceswap-pipe does not …`. */
export function refusalText(reason: ScreenReason, matched: string): string {
  return `${refusalWhat(reason)} ("${matched}"); ${refusalWhy(reason)}`;
}
