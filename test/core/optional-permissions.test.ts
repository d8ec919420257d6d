// core/optional-permissions.ts: which requested permissions the consent decision still asks about
// once declined optional permissions are set aside (docs/consent.md, "Optional permissions").
import t from 'tap';
import { setAsideDeclined } from '../../src/core/optional-permissions.js';

const SIGN_IN = new Set(['openid', 'profile', 'email', 'offline_access']);
const isSignInScope = (scope: string) => SIGN_IN.has(scope);

const cases: Array<
  [string, { requested: string[]; declined: string[]; promptConsent?: boolean; answered?: boolean }, string[]]
> = [
  [
    'nothing declined: the request as it is',
    { requested: ['openid', 'Files.Read'], declined: [] },
    ['openid', 'Files.Read'],
  ],
  [
    'the same set again: the declined permission is set aside (silent)',
    { requested: ['openid', 'Files.Read', 'Calendars.Read'], declined: ['Calendars.Read'] },
    ['openid', 'Files.Read'],
  ],
  [
    'a request for nothing but the declined permission asks for it',
    { requested: ['openid', 'profile', 'Calendars.Read'], declined: ['Calendars.Read'] },
    ['openid', 'profile', 'Calendars.Read'],
  ],
  [
    'prompt=consent asks again',
    { requested: ['openid', 'Files.Read', 'Calendars.Read'], declined: ['Calendars.Read'], promptConsent: true },
    ['openid', 'Files.Read', 'Calendars.Read'],
  ],
  [
    'a new permission beside the declined one: only the new one is asked about',
    { requested: ['openid', 'Mail.Send', 'Calendars.Read'], declined: ['Calendars.Read'] },
    ['openid', 'Mail.Send'],
  ],
  [
    'right after the consent page was answered, what was unticked stays out, even if only sign-in is left',
    { requested: ['openid', 'profile', 'Calendars.Read'], declined: ['Calendars.Read'], answered: true },
    ['openid', 'profile'],
  ],
  ['duplicates go', { requested: ['openid', 'openid', 'Files.Read'], declined: [] }, ['openid', 'Files.Read']],
];

for (const [name, input, expected] of cases) {
  t.same(
    setAsideDeclined({
      requestedScopes: input.requested,
      declinedScopes: input.declined,
      promptConsent: input.promptConsent ?? false,
      answered: input.answered ?? false,
      isSignInScope,
    }),
    expected,
    name,
  );
}
