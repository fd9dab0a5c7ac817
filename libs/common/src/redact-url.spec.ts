import fc from 'fast-check';
import { redactUrl } from './redact-url';

describe('redactUrl', () => {
  it('hides any password and keeps the rest of the URL', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9]{1,30}$/),
        fc.integer({ min: 1, max: 65_535 }),
        (password, port) => {
          const shown = redactUrl(`redis://user:${password}@db.example:${port}/2`, 'REDIS_URL');
          expect(shown).toBe(`redis://user:***@db.example:${port}/2`);
          expect(shown).not.toContain(`:${password}@`);
        },
      ),
    );
    expect(redactUrl('postgres://localhost/temps', 'WAREHOUSE_URL')).toBe(
      'postgres://localhost/temps',
    );
  });

  it('echoes nothing of a value that is not a URL', () => {
    expect(redactUrl('not a url :secret@', 'REDIS_URL')).toBe('(unparseable REDIS_URL)');
  });
});
