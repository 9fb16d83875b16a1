/** Raised inside a script when the client closed the connection or the server shut down. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
}

/** Raised inside a script when a read did not complete in time or grew past its bound. */
export class FaultScriptError extends Error {
  override readonly name = 'FaultScriptError';
}
