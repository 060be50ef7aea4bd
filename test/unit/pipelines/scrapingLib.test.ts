import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeEntities,
  httpFetch,
  isTransientStatus,
  pageKind,
  parseHtmlPage,
  parseJsonPage,
  ScrapeError,
  standInFetch,
  truncateUtf8,
  UnparseablePageError,
} from '../../../pipelines/lib/scraping.js';

const attempt1 = () => ({ attempt: 1, round: 0, signal: new AbortController().signal });
const request = (url: string, maxBodyBytes = 1024) => ({ url, taskId: 't', correlationId: 'c', maxBodyBytes });

describe('parseHtmlPage', () => {
  it('reads title, description, headings, links and visible text', () => {
    const html = `<!DOCTYPE html>
      <html><head>
        <TITLE>  Caf&eacute; &amp; Bar &#8211; Menu </TITLE>
        <meta property="og:description" content="og text">
        <meta content='The &quot;best&quot; menu' name=description>
        <style>.x { color: red }</style>
      </head>
      <body>
        <!-- <a href="/commented-out">no</a> -->
        <h1 class="big">Menu <small>today</small></h1>
        <p>Soup&nbsp;of the day: 5&#x20AC;</p>
        <script type="text/javascript">var a = "<a href='/in-script'>";</script>
        <h2>Drinks</h2><h4>not a heading we keep</h4>
        <a href="/drinks#wine">Drinks</a> <a href='https://other.example.org/'>Other</a>
        <a href=relative.html>rel</a> <a href="/drinks">again</a> <a href="javascript:void(0)">js</a>
        <a href="mailto:x@example.com">mail</a> <a name="anchor">no href</a>
      </body></html>`;
    const page = parseHtmlPage(html, 'https://cafe.example.com/menu/index.html');
    expect(page.title).toBe('Caf&eacute; & Bar – Menu'); // unknown named entities stay
    expect(page.description).toBe('The "best" menu'); // name=description wins over og:description
    expect(page.headings).toEqual(['Menu today', 'Drinks']);
    expect(page.links).toEqual([
      'https://cafe.example.com/drinks',
      'https://other.example.org/',
      'https://cafe.example.com/menu/relative.html',
    ]);
    expect(page.text).toBe(
      'Menu today Soup of the day: 5€ Drinks not a heading we keep Drinks Other rel again js mail no href',
    );
    expect(page.wordCount).toBe(21);
  });

  it('copes with a page without head, body or title', () => {
    const page = parseHtmlPage('just <b>some</b> text', 'https://example.com/');
    expect(page).toEqual({
      title: null,
      description: null,
      headings: [],
      links: [],
      text: 'just some text',
      wordCount: 3,
    });
    expect(parseHtmlPage('', 'https://example.com/')).toMatchObject({ text: '', wordCount: 0 });
  });

  it('bounds what it keeps: 200 links, 2000 characters of text', () => {
    const links = Array.from({ length: 300 }, (_, i) => `<a href="/p${i}">${'word '.repeat(5)}</a>`).join('');
    const page = parseHtmlPage(`<body>${links}</body>`, 'https://example.com/');
    expect(page.links).toHaveLength(200);
    expect(page.text).toHaveLength(2000);
    expect(page.text.endsWith('…')).toBe(true);
    expect(page.wordCount).toBe(1500); // counted on the whole text
  });
});

describe('parseJsonPage', () => {
  it('takes title and description from the top level, URLs as links, other strings as text', () => {
    const page = parseJsonPage(
      JSON.stringify({
        name: 'Widget',
        summary: 'A small widget',
        url: '/widgets/1',
        images: [{ href: 'https://cdn.example.com/w.png' }, { caption: 'front view' }],
        price: 3,
      }),
      'https://api.example.com/v1/widgets/1',
    );
    expect(page).toEqual({
      title: 'Widget',
      description: 'A small widget',
      headings: [],
      links: ['https://api.example.com/widgets/1', 'https://cdn.example.com/w.png'],
      text: 'Widget A small widget front view',
      wordCount: 6,
    });
  });

  it('throws a non-retriable error for a body that is not a JSON object or array', () => {
    expect(() => parseJsonPage('{"a":', 'https://e.com/')).toThrow(UnparseablePageError);
    expect(() => parseJsonPage('42', 'https://e.com/')).toThrow('a JSON number, not an object or array');
    expect(() => parseJsonPage('null', 'https://e.com/')).toThrow('a JSON null');
    try {
      parseJsonPage('x', 'https://e.com/');
    } catch (error) {
      expect((error as UnparseablePageError).retriable).toBe(false);
    }
    expect(parseJsonPage('[{"title":"x"}]', 'https://e.com/').title).toBeNull(); // no top-level object
  });
});

describe('helpers', () => {
  it('truncateUtf8 never cuts a character in half', () => {
    expect(truncateUtf8('héllo', 10)).toEqual({ text: 'héllo', bytes: 6, truncated: false });
    expect(truncateUtf8('héllo', 2)).toEqual({ text: 'h', bytes: 1, truncated: true });
    expect(truncateUtf8('€€', 4)).toEqual({ text: '€', bytes: 3, truncated: true });
  });

  it('classifies statuses and content types', () => {
    expect([408, 425, 429, 500, 503, 599].every(isTransientStatus)).toBe(true);
    expect([200, 301, 400, 403, 404, 410, 451].some(isTransientStatus)).toBe(false);
    expect(pageKind('text/html; charset=UTF-8')).toBe('html');
    expect(pageKind('application/xhtml+xml')).toBe('html');
    expect(pageKind('application/ld+json')).toBe('json');
    expect(pageKind('Application/JSON')).toBe('json');
    expect(pageKind('image/png')).toBeUndefined();
    expect(pageKind('')).toBeUndefined();
  });

  it('decodes entities', () => {
    expect(decodeEntities('&lt;a&gt; &#65;&#x42; &bogus; &#0;')).toBe('<a> AB &bogus; &#0;');
  });

  it('the stand-in is deterministic and fails as its URL says', async () => {
    const fetch = standInFetch();
    const a = await fetch(request('https://example.com/a'), attempt1());
    const b = await fetch(request('https://example.com/a'), attempt1());
    expect(a).toEqual(b);
    await expect(fetch(request('https://example.com/?fail=1'), attempt1())).rejects.toMatchObject({
      retriable: true,
      statusCode: 503,
    });
    await expect(fetch(request('https://example.com/?fail=1'), { ...attempt1(), attempt: 2 })).resolves.toMatchObject({
      statusCode: 200,
    });
    await expect(fetch(request('https://example.com/?status=418'), attempt1())).resolves.toMatchObject({
      statusCode: 418,
    });
    await expect(fetch(request('https://x.invalid/'), attempt1())).rejects.toBeInstanceOf(ScrapeError);
  });
});

describe('httpFetch', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    server = undefined;
  });

  async function serve(): Promise<string> {
    const created = createServer((req, res) => {
      if (req.url === '/moved') {
        res.writeHead(301, { location: '/page' });
        res.end();
      } else if (req.url === '/page') {
        res.writeHead(200, { 'content-type': 'text/html', 'x-agent': req.headers['user-agent'] ?? '' });
        res.end('<title>hi</title>');
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(100_000));
      } else {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('busy');
      }
    });
    server = created;
    await new Promise<void>((done) => created.listen(0, '127.0.0.1', done));
    return `http://127.0.0.1:${(created.address() as AddressInfo).port}`;
  }

  it('follows redirects and reports the final URL, status and content type', async () => {
    const base = await serve();
    const response = await httpFetch()(request(`${base}/moved`), attempt1());
    expect(response).toEqual({
      statusCode: 200,
      contentType: 'text/html',
      body: '<title>hi</title>',
      finalUrl: `${base}/page`,
    });
    expect((await httpFetch()(request(`${base}/other`), attempt1())).statusCode).toBe(503);
  });

  it('stops reading after maxBodyBytes', async () => {
    const base = await serve();
    const response = await httpFetch()(request(`${base}/big`, 1000), attempt1());
    expect(response.body.length).toBeGreaterThanOrEqual(1000);
    expect(response.body.length).toBeLessThanOrEqual(1004);
  });

  it('turns a network error into a retriable ScrapeError', async () => {
    const base = await serve();
    await new Promise<void>((done) => server?.close(() => done()));
    server = undefined;
    await expect(httpFetch()(request(`${base}/page`), attempt1())).rejects.toMatchObject({
      name: 'ScrapeError',
      retriable: true,
    });
  });
});
