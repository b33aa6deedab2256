/**
 * SQL for one filter comparison. Values are always bound parameters; LIKE and ILIKE go through the `mlflow_like` and
 * `mlflow_ilike` functions (MLflow's case rules), IN and NOT IN through `json_each` (one parameter for any list).
 */

/** The comparators MLflow's filters know. */
export type Comparator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN';

/** `column <comparator> ?`, pushing the bound value(s) onto `params`. */
export function sqlComparison(column: string, comparator: Comparator, value: unknown, params: unknown[]): string {
  switch (comparator) {
    case '=':
    case '!=':
    case '<':
    case '<=':
    case '>':
    case '>=':
      params.push(value);
      return `${column} ${comparator} ?`;
    case 'LIKE':
      params.push(value);
      return `mlflow_like(${column}, ?)`;
    case 'ILIKE':
      params.push(value);
      return `mlflow_ilike(${column}, ?)`;
    case 'IN':
    case 'NOT IN':
      params.push(JSON.stringify(value));
      return `${column} ${comparator} (SELECT value FROM json_each(?))`;
  }
}
