import { join } from 'node:path';
import ts from 'typescript';

/** The file naming the schema's types (imports from @grafana/schema), beside this one. */
const TYPES_FILE = join(__dirname, 'grafana-schema.types.ts');

interface Plugin {
  options: ts.Type;
  custom: ts.Type;
}

type Json = unknown;
const isObject = (value: Json): value is Record<string, Json> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks a dashboard's JSON model against Grafana's published TypeScript schema (@grafana/schema),
 * read with the TypeScript compiler: every key of the dashboard, of each panel, of its options
 * (the schema of its panel type), of its field config and custom field config must be one the
 * schema declares, and every value must be of the declared kind (string, number, boolean, one of
 * an enum's or a union's literals, an array, an object). A panel type without a schema here fails.
 * Keys the schema marks required but the file leaves out are not reported: Grafana fills in their
 * defaults when it loads a dashboard. Query targets are free-form in the schema (one shape per
 * datasource; there is none for Prometheus), so only their presence is checked elsewhere.
 */
export class GrafanaSchema {
  private readonly checker: ts.TypeChecker;
  private readonly types: Record<
    'dashboard' | 'panel' | 'row' | 'fieldConfigSource' | 'fieldConfig',
    ts.Type
  >;
  private readonly plugins = new Map<string, Plugin>();

  constructor() {
    const program = ts.createProgram([TYPES_FILE], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.Node16,
      moduleResolution: ts.ModuleResolutionKind.Node16,
      types: [],
    });
    const errors = ts.getPreEmitDiagnostics(program);
    if (errors.length > 0)
      throw new Error(
        `The schema types do not compile (is @grafana/schema installed?): ${ts.formatDiagnostics(
          errors,
          {
            getCanonicalFileName: (f) => f,
            getCurrentDirectory: () => process.cwd(),
            getNewLine: () => '\n',
          },
        )}`,
      );
    this.checker = program.getTypeChecker();
    const source = program.getSourceFile(TYPES_FILE)!;
    const exported = this.checker.getExportsOfModule(this.checker.getSymbolAtLocation(source)!);
    const named = (name: string) => {
      const symbol = exported.find((s) => s.name === name);
      if (!symbol) throw new Error(`${TYPES_FILE} exports no ${name}`);
      return this.checker.getDeclaredTypeOfSymbol(symbol);
    };
    this.types = {
      dashboard: named('SchemaDashboard'),
      panel: named('SchemaPanel'),
      row: named('SchemaRowPanel'),
      fieldConfigSource: named('SchemaFieldConfigSource'),
      fieldConfig: named('SchemaFieldConfig'),
    };
    for (const plugin of this.checker.getPropertiesOfType(named('SchemaPanelPlugins'))) {
      const type = this.checker.getTypeOfSymbol(plugin);
      const part = (name: string) => this.checker.getTypeOfSymbol(type.getProperty(name)!);
      this.plugins.set(plugin.name, { options: part('options'), custom: part('custom') });
    }
  }

  /** The panel types the schema covers here. */
  panelTypes(): string[] {
    return [...this.plugins.keys()].sort();
  }

  /** Every key or value of `dashboard` that Grafana's schema does not allow, as `path: what`. */
  problems(dashboard: Json): string[] {
    const out: string[] = [];
    if (!isObject(dashboard)) return ['the dashboard is not a JSON object'];
    this.object(dashboard, this.types.dashboard, '', out, ['panels']);
    const panels = dashboard.panels ?? [];
    if (!Array.isArray(panels)) out.push('panels: not an array');
    else panels.forEach((panel, i) => this.panel(panel, `panels[${i}]`, out));
    return out;
  }

  private panel(panel: Json, at: string, out: string[]): void {
    if (!isObject(panel)) return void out.push(`${at}: not an object`);
    const path = `${at}(${String(panel.title ?? panel.type)})`;
    if (panel.type === 'row') {
      this.object(panel, this.types.row, path, out, ['panels']);
      const nested = panel.panels ?? [];
      if (Array.isArray(nested))
        nested.forEach((inner, i) => this.panel(inner, `${path}.panels[${i}]`, out));
      return;
    }
    this.object(panel, this.types.panel, path, out, ['options', 'fieldConfig']);
    const plugin = this.plugins.get(String(panel.type));
    if (!plugin)
      return void out.push(
        `${path}.type: no schema for panel type ${JSON.stringify(panel.type)} (known: ${this.panelTypes().join(', ')})`,
      );
    if (panel.options !== undefined)
      this.value(panel.options, plugin.options, `${path}.options`, out);
    const fieldConfig = panel.fieldConfig;
    if (fieldConfig === undefined) return;
    if (!isObject(fieldConfig)) return void out.push(`${path}.fieldConfig: not an object`);
    this.object(fieldConfig, this.types.fieldConfigSource, `${path}.fieldConfig`, out, [
      'defaults',
    ]);
    const defaults = fieldConfig.defaults;
    if (isObject(defaults)) {
      this.object(defaults, this.types.fieldConfig, `${path}.fieldConfig.defaults`, out, [
        'custom',
      ]);
      if (defaults.custom !== undefined)
        this.value(defaults.custom, plugin.custom, `${path}.fieldConfig.defaults.custom`, out);
    } else if (defaults !== undefined) out.push(`${path}.fieldConfig.defaults: not an object`);
    // An override sets field config by id: `unit`, or `custom.<option>` of the panel's plugin.
    const overrides = Array.isArray(fieldConfig.overrides) ? fieldConfig.overrides : [];
    overrides.forEach((override, i) => {
      const properties = isObject(override) && override.properties;
      if (!Array.isArray(properties)) return;
      properties.forEach((property, j) => {
        const id = isObject(property) ? String(property.id) : '';
        const [owner, key] = id.startsWith('custom.')
          ? [plugin.custom, id.slice('custom.'.length)]
          : [this.types.fieldConfig, id];
        if (!this.checker.getPropertyOfType(owner, key))
          out.push(
            `${path}.fieldConfig.overrides[${i}].properties[${j}].id: unknown field config ${JSON.stringify(id)}`,
          );
      });
    });
  }

  /** `value` against `type`, reporting what does not fit. */
  private value(value: Json, type: ts.Type, path: string, out: string[]): void {
    const { flags } = type;
    if (flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.TypeParameter)) return;
    if (type.isUnion()) return this.union(value, type, path, out);
    const wrong = (expected: string) =>
      out.push(`${path}: ${JSON.stringify(value)} is not ${expected}`);
    if (type.isStringLiteral() || type.isNumberLiteral()) {
      if (value !== type.value) wrong(JSON.stringify(type.value));
    } else if (flags & ts.TypeFlags.BooleanLiteral) {
      if (value !== (this.checker.typeToString(type) === 'true')) wrong(this.name(type));
    } else if (flags & ts.TypeFlags.StringLike) {
      if (typeof value !== 'string') wrong('a string');
    } else if (flags & ts.TypeFlags.NumberLike) {
      if (typeof value !== 'number') wrong('a number');
    } else if (flags & ts.TypeFlags.BooleanLike) {
      if (typeof value !== 'boolean') wrong('a boolean');
    } else if (flags & ts.TypeFlags.Null) {
      if (value !== null) wrong('null');
    } else if (this.checker.isArrayType(type)) {
      if (!Array.isArray(value)) return void wrong('an array');
      const [element] = this.checker.getTypeArguments(type as ts.TypeReference);
      value.forEach((item, i) => this.value(item, element, `${path}[${i}]`, out));
    } else if (this.checker.isTupleType(type)) {
      if (!Array.isArray(value)) return void wrong('an array');
      const elements = this.checker.getTypeArguments(type as ts.TypeReference);
      value.forEach((item, i) =>
        elements[i]
          ? this.value(item, elements[i], `${path}[${i}]`, out)
          : out.push(`${path}[${i}]: beyond the tuple`),
      );
    } else if (flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection)) {
      if (!isObject(value)) return void wrong(`an object (${this.name(type)})`);
      this.object(value, type, path, out);
    }
  }

  /** A value fits a union when it fits one member; else the closest member's complaints. */
  private union(value: Json, type: ts.UnionType, path: string, out: string[]): void {
    const members = type.types.filter(
      (member) => !(member.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)),
    );
    let best: string[] | null = null;
    for (const member of members) {
      const complaints: string[] = [];
      this.value(value, member, path, complaints);
      if (complaints.length === 0) return;
      if (best === null || complaints.length < best.length) best = complaints;
    }
    const literal = (member: ts.Type) =>
      member.isLiteral() || (member.flags & ts.TypeFlags.BooleanLiteral) !== 0;
    if (members.length > 0 && members.every(literal))
      out.push(
        `${path}: ${JSON.stringify(value)} is not one of ${members.map((m) => (m.isLiteral() ? JSON.stringify(m.value) : this.name(m))).join(', ')}`,
      );
    else out.push(...(best ?? []));
  }

  /** Every key of `value` is a property of `type` (or fits its index signature), and fits it. */
  private object(
    value: Record<string, Json>,
    type: ts.Type,
    path: string,
    out: string[],
    skip: string[] = [],
  ): void {
    const index = this.checker
      .getIndexInfosOfType(type)
      .find((info) => info.keyType.flags & ts.TypeFlags.String);
    for (const [key, item] of Object.entries(value)) {
      if (skip.includes(key)) continue;
      const at = path ? `${path}.${key}` : key;
      const property = this.checker.getPropertyOfType(type, key);
      if (property) this.value(item, this.checker.getTypeOfSymbol(property), at, out);
      else if (index) this.value(item, index.type, at, out);
      else out.push(`${at}: not in Grafana's schema (${this.name(type)})`);
    }
  }

  private name(type: ts.Type): string {
    const text = this.checker.typeToString(type);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  }
}
