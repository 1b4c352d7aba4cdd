import { codeSchemaAjv } from '../../src/protocol/code-schemas';

/**
 * Not a valid JSON Schema (a description must be a string), and a mistake only the meta-schema
 * catches: Ajv's own keyword checks, which run either way, ignore annotations.
 */
const BROKEN = { type: 'string', description: 5 };

describe('codeSchemaAjv', () => {
  const nodeEnv = process.env['NODE_ENV'];
  afterEach(() => {
    if (nodeEnv === undefined) delete process.env['NODE_ENV'];
    else process.env['NODE_ENV'] = nodeEnv;
  });

  it('checks the code base\'s schemas against the meta-schema wherever they run outside production', () => {
    process.env['NODE_ENV'] = 'test';
    expect(() => codeSchemaAjv({ strict: true }).compile(BROKEN)).toThrow(/schema is invalid/);
    delete process.env['NODE_ENV'];
    expect(() => codeSchemaAjv({ strict: true }).compile(BROKEN)).toThrow(/schema is invalid/);
  });

  it('skips that check in production, where compiling the meta-schema is start-up time', () => {
    process.env['NODE_ENV'] = 'production';
    const ajv = codeSchemaAjv({ strict: true });
    expect(ajv.compile({ type: 'string', minLength: 2 })('ab')).toBe(true);
    expect(ajv.compile(BROKEN)('ab')).toBe(true);
  });
});
