// The one rule for an admin's search box over short lists (apps, enterprise apps): every word
// typed must appear, in any case, in one of the record's fields.

export function matchesSearch(search: string | undefined, ...fields: Array<string | null | undefined>): boolean {
  const words = (search ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const text = fields
    .filter((field): field is string => typeof field === 'string')
    .join('\n')
    .toLowerCase();
  return words.every((word) => text.includes(word));
}
