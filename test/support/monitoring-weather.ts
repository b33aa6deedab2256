/**
 * The data of the drift-monitor tests: Seattle's daily weather (vega-datasets) split in time. The reference is the
 * training year (odd days of 2012), the holdout the undrifted other half (even days of 2012), and 2015 the drifted
 * period (warmer: temp_max PSI 0.22 against the reference, KS p = 0.008; and labelled differently).
 */
import { join, resolve } from 'node:path';

import { duck } from './ml-fixtures';

/** The dataset's CSV file. */
export const WEATHER_CSV = join(
  resolve(__dirname, '..', '..'),
  'node_modules',
  'vega-datasets',
  'data',
  'seattle-weather.csv',
);

/** The Parquet files {@link writeWeatherSplits} writes. */
export interface WeatherSplits {
  /** Odd days of 2012: the training data. */
  reference: string;
  /** Even days of 2012: like the reference. */
  holdout: string;
  /** All of 2015: drifted. */
  y2015: string;
}

/** Writes the reference, holdout and 2015 splits as Parquet files in `directory`. */
export async function writeWeatherSplits(directory: string): Promise<WeatherSplits> {
  const files: WeatherSplits = {
    reference: join(directory, 'reference.parquet'),
    holdout: join(directory, 'holdout.parquet'),
    y2015: join(directory, 'weather-2015.parquet'),
  };
  const weather = `read_csv('${WEATHER_CSV}', header = true)`;
  await duck(
    `COPY (SELECT * FROM ${weather} WHERE year(date) = 2012 AND dayofyear(date) % 2 = 1 ORDER BY date) TO '${files.reference}' (FORMAT parquet)`,
    `COPY (SELECT * FROM ${weather} WHERE year(date) = 2012 AND dayofyear(date) % 2 = 0 ORDER BY date) TO '${files.holdout}' (FORMAT parquet)`,
    `COPY (SELECT * FROM ${weather} WHERE year(date) = 2015 ORDER BY date) TO '${files.y2015}' (FORMAT parquet)`,
  );
  return files;
}

/** The model's input features of a split (what a serving request carries: no date, no label), in date order. */
export async function servingInputsOf(file: string): Promise<Record<string, unknown>[]> {
  const [rows = []] = await duck(
    `SELECT precipitation, temp_max, temp_min, wind FROM read_parquet('${file}') ORDER BY date`,
  );
  return rows;
}
