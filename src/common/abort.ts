/** An AbortSignal that fires when the client goes away before the answer is sent. */
export function abortOnClientGone(reply: { raw: { once(event: 'close', fn: () => void): unknown; writableEnded: boolean } }): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableEnded) controller.abort();
  });
  return controller.signal;
}
