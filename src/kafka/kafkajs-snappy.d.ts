declare module 'kafkajs-snappy' {
  interface Encoder {
    buffer: Buffer;
  }
  const createSnappyCodec: () => {
    compress(encoder: Encoder): Promise<Buffer>;
    decompress(buffer: Buffer): Promise<Buffer>;
  };
  export default createSnappyCodec;
}
