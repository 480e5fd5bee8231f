/**
 * The collaboration document name of a graph: `graph:<id>`.
 *
 * Graph ids are the host's ids (uuid-like, url-safe). Anything else is not a Weft document.
 */

const pattern = /^graph:([A-Za-z0-9_-]{1,128})$/

/** The document name for a graph id. */
export const documentNameOf = (graphId: string): string => `graph:${graphId}`

/** The graph id in a document name, or `undefined` when the name is not `graph:<id>`. */
export const graphIdOf = (documentName: string): string | undefined => pattern.exec(documentName)?.[1]
