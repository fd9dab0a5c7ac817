// The parts of Grafana's published schema (@grafana/schema, the version of the Grafana image in
// docker-compose.yml) that grafana/dashboards/temps.json is checked against: the dashboard and
// panel models, and each panel plugin's options and custom field config. Read by
// grafana-schema.ts through the TypeScript compiler; the typecheck proves these imports exist.
import type { Dashboard, FieldConfig, FieldConfigSource, Panel, RowPanel } from '@grafana/schema';
import type * as bargauge from '@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen';
import type * as gauge from '@grafana/schema/dist/esm/raw/composable/gauge/panelcfg/x/GaugePanelCfg_types.gen';
import type * as stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type * as text from '@grafana/schema/dist/esm/raw/composable/text/panelcfg/x/TextPanelCfg_types.gen';
import type * as timeseries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

/** A plugin without custom field options: any key under fieldConfig.defaults.custom is unknown. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
interface NoCustomFieldConfig {}

/**
 * The panel types the dashboard may use, each with its options and custom field config. A panel
 * type not listed here fails the check: add it with its schema, never as a free-form record.
 */
export interface SchemaPanelPlugins {
  bargauge: { options: bargauge.Options; custom: NoCustomFieldConfig };
  gauge: { options: gauge.Options; custom: NoCustomFieldConfig };
  stat: { options: stat.Options; custom: NoCustomFieldConfig };
  table: { options: table.Options; custom: table.FieldConfig };
  text: { options: text.Options; custom: NoCustomFieldConfig };
  timeseries: { options: timeseries.Options; custom: timeseries.FieldConfig };
}

export type SchemaDashboard = Dashboard;
export type SchemaPanel = Panel;
export type SchemaRowPanel = RowPanel;
export type SchemaFieldConfigSource = FieldConfigSource;
export type SchemaFieldConfig = FieldConfig;
