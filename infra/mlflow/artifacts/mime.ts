/**
 * Content types of downloaded artifacts, as MLflow guesses them (MLmodel and MLproject are text; unknown types are
 * `application/octet-stream`). Downloads are always attachments, so a browser never renders them on the server's
 * origin.
 */
const BY_EXTENSION: Record<string, string> = {
  MLmodel: 'text/plain',
  MLproject: 'text/plain',
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  yaml: 'application/x-yaml',
  yml: 'application/x-yaml',
  json: 'application/json',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  html: 'text/html',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  parquet: 'application/octet-stream',
};

/** The content type of a file by its name. */
export function guessMimeType(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  const extension = dot <= 0 ? fileName : fileName.slice(dot + 1);
  return BY_EXTENSION[extension] ?? BY_EXTENSION[extension.toLowerCase()] ?? 'application/octet-stream';
}
