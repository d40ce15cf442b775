/** How figures read, in the command line's tables and in the reports alike. */
import type { SummarisedMetric } from '../../sim/sweep';

/** `value` with `digits` decimals and thousands separators. */
export function formatNumber(value: number, digits: number): string {
  return value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Each summarised metric of a sweep as a column: its title and one value's text. */
export const SUMMARY_COLUMNS: Readonly<Record<SummarisedMetric, { readonly title: string; readonly format: (value: number) => string }>> = {
  energyKwh: { title: 'energy kWh', format: (v) => formatNumber(v, 2) },
  migrations: { title: 'migrations', format: (v) => formatNumber(v, 1) },
  slatah: { title: 'SLATAH %', format: (v) => formatNumber(v * 100, 3) },
  pdm: { title: 'PDM %', format: (v) => formatNumber(v * 100, 4) },
  slav: { title: 'SLAV', format: (v) => v.toExponential(3) },
  esv: { title: 'ESV', format: (v) => v.toExponential(3) },
};
