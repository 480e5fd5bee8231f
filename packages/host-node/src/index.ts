/**
 * `@weft/host-node`: the Weft host. One SQL store on Postgres or PGlite, durable runs, the HTTP API with
 * live events, and sign-in.
 *
 * @since 0.1.0
 */
export {}
