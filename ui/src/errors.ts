// Which window errors are not the user's problem.

/** The browser's "ResizeObserver loop completed with undelivered notifications" is a
 * harmless warning (a chart resized during a layout pass), never an error to show. */
export const isBenign = (message: string) => /ResizeObserver loop/.test(message);
