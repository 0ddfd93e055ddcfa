// Placeholder: replaced by the harness that starts the private Docker Engine.
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {};
}
