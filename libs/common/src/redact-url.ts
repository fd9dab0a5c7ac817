/**
 * A connection URL as given, its password replaced by `***`, for logs and error messages; checked
 * or not. Text that is not a URL becomes `(unparseable <name>)`, so nothing of it is echoed.
 */
export function redactUrl(raw: string, name: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return `(unparseable ${name})`;
  }
}
