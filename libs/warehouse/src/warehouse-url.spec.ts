import {
  describeWarehouse,
  parseWarehouseUrl,
  redactWarehouseUrl,
  WarehouseConfigError,
} from './warehouse-url';

describe('WAREHOUSE_URL', () => {
  it('names a PostgreSQL server or a PGlite folder', () => {
    expect(parseWarehouseUrl('postgres://u:p@db:5433/temps')).toEqual({
      kind: 'postgres',
      url: 'postgres://u:p@db:5433/temps',
    });
    expect(parseWarehouseUrl('postgresql://db/temps').kind).toBe('postgres');
    expect(parseWarehouseUrl('file:///var/lib/temps/warehouse')).toEqual({
      kind: 'pglite',
      dataDir: '/var/lib/temps/warehouse',
    });
  });

  it.each([
    ['not a url', /must look like/],
    ['mysql://db/temps', /must start with postgres:\/\/, postgresql:\/\/ or file:\/\/, got mysql:/],
    ['postgres://db', /names no database/],
    ['postgres:///temps', /names no host/],
  ])('refuses %s in one line', (raw, message) => {
    expect(() => parseWarehouseUrl(raw)).toThrow(WarehouseConfigError);
    expect(() => parseWarehouseUrl(raw)).toThrow(message);
  });

  it('never repeats a password in what it reports', () => {
    const secret = 's3cr%40t';
    expect(() => parseWarehouseUrl(`postgres://u:${secret}@`)).toThrow(WarehouseConfigError);
    try {
      parseWarehouseUrl(`postgres://u:${secret}@db`);
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cr');
    }
    expect(describeWarehouse(parseWarehouseUrl(`postgres://u:${secret}@db/temps`))).toBe(
      'postgres://u:***@db/temps',
    );
  });

  it('is redacted as given, before any check, and never with its password', () => {
    expect(redactWarehouseUrl('postgres://u:s3cr%40t@db:5433/temps')).toBe(
      'postgres://u:***@db:5433/temps',
    );
    expect(redactWarehouseUrl('postgres://db/temps')).toBe('postgres://db/temps');
    expect(redactWarehouseUrl('file:///var/lib/temps/warehouse')).toBe(
      'file:///var/lib/temps/warehouse',
    );
    expect(redactWarehouseUrl('postgres://u:s3cret@')).toBe('(unparseable WAREHOUSE_URL)');
  });
});
