/**
 * The client's Producer with its Produce requests encoded by `encodeProduceRequest`: one Buffer per request instead
 * of several objects per record. Everything else (metadata, leaders, connections, retries, idempotent sequences and
 * their recovery) stays the client's. The Produce API is swapped where the client looks it up, its protected
 * `kGetApi` hook, and only for the versions whose layout the encoder writes (9 to 11) and only for uncompressed
 * batches; other versions and compressed sends keep the client's encoder.
 */
import {
  type API,
  type Callback,
  createAPI,
  kGetApi,
  Producer,
  produceV9,
  produceV10,
  produceV11,
  type Writer,
} from '@platformatic/kafka';
import { encodeProduceRequest, type ProduceMessage, type ProduceOptions } from './produceRequest.js';

type ProduceVersion = typeof produceV9 | typeof produceV10 | typeof produceV11;
const VERSIONS = new Map<number, ProduceVersion>([
  [9, produceV9],
  [10, produceV10],
  [11, produceV11],
]);

/** The client's own request for what this encoder leaves to it: compressed batches (gzip asynchronously, as it does). */
function clientRequest(
  version: ProduceVersion,
  acks: number,
  timeout: number,
  messages: ProduceMessage[],
  options: ProduceOptions & { compression?: string },
): Writer | Promise<Writer> {
  // the client's message and option types, which these are at run time (they come from its own Producer)
  const records = messages as Parameters<typeof produceV11.createRequest>[2];
  const produceOptions = options as Parameters<typeof produceV11.createRequest>[3];
  return options.compression === 'gzip'
    ? version.createRequestAsync(acks, timeout, records, produceOptions)
    : version.createRequest(acks, timeout, records, produceOptions);
}

const apis = new Map(
  [...VERSIONS].map(([number, version]) => [
    number,
    createAPI(
      0,
      number,
      (
        acks: number,
        timeout: number,
        messages: ProduceMessage[],
        options: ProduceOptions & { compression?: string },
      ) =>
        (options.compression ?? 'none') === 'none'
          ? encodeProduceRequest(acks, timeout, messages, options)
          : clientRequest(version, acks, timeout, messages, options),
      version.parseResponse,
    ),
  ]),
);

export class EncodingProducer extends Producer<Buffer, Buffer, Buffer, Buffer> {
  override [kGetApi]<RequestArguments extends Array<unknown>, ResponseType>(
    name: string,
    callback: Callback<API<RequestArguments, ResponseType>>,
  ): void {
    if (name !== 'Produce') {
      super[kGetApi](name, callback);
      return;
    }
    super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) => {
      const ours = api === undefined ? undefined : apis.get(api.version);
      if (error || ours === undefined) callback(error, api);
      else callback(null, ours as unknown as API<RequestArguments, ResponseType>);
    });
  }
}
