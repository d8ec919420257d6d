// The catalogues and the choice of language: every key of every namespace exists in every
// language with the same interpolation variables; ui_locales, then Accept-Language, then English;
// Intl formats in UTC; a permission's description never falls back to a raw scope name.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import {
  clearMissingKeys,
  loadCatalogues,
  localesDir,
  pageLocale,
  pickLocale,
  reportedMissingKeys,
  SUPPORTED_LOCALES,
} from '../../src/plugins/i18n.js';

const catalogues = loadCatalogues();

/** Every leaf of a catalogue as `path → text`. */
function leaves(messages: Record<string, unknown>, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(messages)) {
    if (typeof value === 'string') out.set(prefix + key, value);
    else if (typeof value === 'object' && value !== null)
      for (const [leaf, text] of leaves(value as Record<string, unknown>, `${prefix}${key}.`)) out.set(leaf, text);
    else out.set(prefix + key, `«not a string: ${String(value)}»`);
  }
  return out;
}

/** The `{{name}}` variables a message interpolates, sorted. */
function variables(text: string): string[] {
  return [...new Set([...text.matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)].map((match) => match[1]!))].sort();
}

/** i18next's plural forms (`_one`, `_other`, …) differ by language: compare their base key. */
function baseKey(key: string): string {
  return key.replace(/_(zero|one|two|few|many|other)$/, '');
}

t.test('every language has a catalogue for every namespace, and nothing else', async (t) => {
  const languages = readdirSync(localesDir).sort();
  t.same(languages, [...SUPPORTED_LOCALES].sort(), 'one folder per supported language');
  const namespaces = (lang: string) =>
    readdirSync(path.join(localesDir, lang))
      .filter((file) => file.endsWith('.json'))
      .sort();
  for (const lang of SUPPORTED_LOCALES) t.same(namespaces(lang), namespaces('en'), `${lang} has every namespace`);
  for (const required of ['common.json', 'pages.json', 'permissions.json'])
    t.ok(namespaces('en').includes(required), `${required} exists`);
});

for (const namespace of Object.keys(catalogues.en ?? {}).sort()) {
  t.test(`the ${namespace} namespace: every key in every language, with the same variables`, async (t) => {
    const english = leaves(catalogues.en![namespace]!);
    t.ok(english.size > 0, 'English has messages');
    for (const lang of SUPPORTED_LOCALES) {
      if (lang === 'en') continue;
      const other = leaves(catalogues[lang]?.[namespace] ?? {});
      const englishBases = new Set([...english.keys()].map(baseKey));
      const otherBases = new Set([...other.keys()].map(baseKey));
      t.same(
        [...englishBases].filter((key) => !otherBases.has(key)),
        [],
        `${lang}/${namespace}.json misses no key of en`,
      );
      t.same(
        [...otherBases].filter((key) => !englishBases.has(key)),
        [],
        `${lang}/${namespace}.json has no key en lacks`,
      );
      const mismatched: string[] = [];
      for (const [key, text] of english) {
        const translated = other.get(key) ?? other.get(`${baseKey(key)}_other`);
        if (translated === undefined) continue;
        if (variables(text).join() !== variables(translated).join())
          mismatched.push(`${key}: en {${variables(text)}} ≠ ${lang} {${variables(translated)}}`);
        if (translated.trim() === '') mismatched.push(`${key}: empty in ${lang}`);
        if (/<[a-z]/.test(text) && !key.endsWith('Html'))
          mismatched.push(`${key}: holds markup, so its name must end in Html (written with tHtml)`);
      }
      t.same(mismatched, [], `${lang}/${namespace}.json interpolates the same variables`);
    }
  });
}

t.test('the page language: ui_locales first, then Accept-Language by quality, then English', async (t) => {
  const cases: Array<[string, Parameters<typeof pickLocale>[0], string]> = [
    ['nothing asked', {}, 'en'],
    ['ui_locales de', { uiLocales: 'de' }, 'de'],
    ['ui_locales de-CH is German', { uiLocales: 'de-CH' }, 'de'],
    ['the first supported tag of ui_locales', { uiLocales: 'fr-CA de en' }, 'de'],
    ['ui_locales in capitals', { uiLocales: 'DE-AT' }, 'de'],
    ['ui_locales over Accept-Language', { uiLocales: 'en', acceptLanguage: 'de' }, 'en'],
    ['no supported ui_locales: Accept-Language', { uiLocales: 'fr ja', acceptLanguage: 'de-DE,de;q=0.9' }, 'de'],
    ['Accept-Language de-CH', { acceptLanguage: 'de-CH' }, 'de'],
    ['Accept-Language by quality', { acceptLanguage: 'en;q=0.5, de;q=0.8' }, 'de'],
    ['Accept-Language without a supported language', { acceptLanguage: 'fr, ja;q=0.5' }, 'en'],
    ['Accept-Language *', { acceptLanguage: '*' }, 'en'],
    ['an empty Accept-Language', { acceptLanguage: '' }, 'en'],
    ['nonsense', { acceptLanguage: ';;;q=x', uiLocales: '   ' }, 'en'],
    ['a non-string ui_locales is ignored', { uiLocales: ['de'] }, 'en'],
  ];
  for (const [what, preferences, expected] of cases) t.equal(pickLocale(preferences), expected, what);
});

t.test('dates, numbers and lists with Intl for the language, in UTC', async (t) => {
  const moment = new Date('2026-12-06T23:30:00Z');
  t.equal(pageLocale('en').fmt.date(moment), '6 Dec 2026');
  t.equal(pageLocale('de').fmt.date(moment), '06.12.2026');
  t.match(pageLocale('en').fmt.dateTime(moment), /6 Dec 2026.*23:30.*UTC/);
  t.match(pageLocale('de').fmt.dateTime(moment), /6\. Dez\. 2026.*23:30.*UTC/);
  t.equal(pageLocale('en').fmt.number(1234.5), '1,234.5');
  t.equal(pageLocale('de').fmt.number(1234.5), '1.234,5');
  t.equal(pageLocale('en').fmt.list(['a', 'b', 'c']), 'a, b and c');
  t.equal(pageLocale('de').fmt.list(['a', 'b', 'c']), 'a, b und c');
});

t.test('messages: plain text, markup with escaped values, and missing keys reported', async (t) => {
  const de = pageLocale('de');
  t.equal(de.lang, 'de');
  t.equal(de.t('pages:consent.title'), 'Angeforderte Berechtigungen');
  t.equal(pageLocale('en').t('pages:consent.title'), 'Permissions requested');
  t.equal(
    de.tHtml('pages:login.continueToHtml', { app: '<b>Tom & Jerry</b>' }),
    'um mit <strong>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</strong> fortzufahren',
    'values are escaped inside the markup',
  );
  t.equal(
    de
      .tHtml('pages:consent.fineHtml', { privacy: { html: '<a href="/p">P</a>' }, terms: 'T&C' })
      .includes('<a href="/p">P</a> und ihren T&amp;C'),
    true,
    'markup a template built is kept',
  );
  t.equal(de.t('common:errors.not_found.title'), 'Seite nicht gefunden');
  clearMissingKeys();
  de.t('pages:no.such.key');
  t.same(
    reportedMissingKeys().map((missing) => `${missing.namespace}:${missing.key}`),
    ['pages:no.such.key'],
    'a key no catalogue has is reported',
  );
  clearMissingKeys();
});

t.test('a permission is described in the page language, else in the database text, never by its scope', async (t) => {
  const builtIn = { scope: 'User.Read.All', userDescription: 'db user text', adminDescription: 'db admin text' };
  t.equal(pageLocale('de').permission(builtIn, 'user'), 'Die Profile aller Personen in Ihrer Organisation lesen');
  t.equal(pageLocale('de').permission(builtIn, 'admin'), 'Das Profil jedes Benutzers in der Organisation lesen');
  t.equal(pageLocale('en').permission(builtIn, 'user'), 'Read the profiles of everyone in your organisation');
  const unknown = { scope: 'Custom.Thing', userDescription: 'Do a custom thing', adminDescription: 'Do it for all' };
  t.equal(pageLocale('de').permission(unknown, 'user'), 'Do a custom thing');
  t.equal(pageLocale('de').permission(unknown, 'admin'), 'Do it for all');
  t.same(reportedMissingKeys(), [], 'the fallback is not a missing key');
});

t.test(
  'the permissions namespace covers every built-in permission of the migrations, with their English text',
  async (t) => {
    const { readFileSync } = await import('node:fs');
    const migrations = readdirSync(path.join(localesDir, '../../migrations'))
      .filter((file) => file.endsWith('.sql'))
      .map((file) => readFileSync(path.join(localesDir, '../../migrations', file), 'utf8'))
      .join('\n');
    const rows = [
      ...migrations.matchAll(/\(\s*'([^']+)',\s*'(?:openid|data|admin)',\s*'((?:[^']|'')*)',\s*'((?:[^']|'')*)'/g),
    ];
    t.ok(rows.length >= 14, `the built-in permissions are found in the migrations (${rows.length})`);
    const english = catalogues.en!.permissions as Record<string, { user: string; admin: string }>;
    for (const [, scope, user, admin] of rows) {
      t.same(
        english[scope!],
        { user: user!.replace(/''/g, "'"), admin: admin!.replace(/''/g, "'") },
        `${scope}: English is the database's text`,
      );
    }
    t.same(Object.keys(english).sort(), rows.map((row) => row[1]!).sort(), 'and no other scope');
  },
);
