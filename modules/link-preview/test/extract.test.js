import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeHtml, extractPreview } from "../src/extract.js";

test("Open Graph tags win, with entities decoded and relative images resolved", () => {
  const html = `<!doctype html><html><head>
    <title>Plain title</title>
    <meta property="og:title" content="Rock &amp; Roll">
    <meta name="description" content="the plain description">
    <meta property="og:description" content="  An   OG
      description ">
    <meta property="og:site_name" content="Example">
    <meta property="og:image" content="/img/card.png">
  </head><body><script>var s = '<meta property="og:title" content="nope">';</script></body></html>`;
  assert.deepEqual(extractPreview(html, "https://example.org/a/b"), {
    title: "Rock & Roll",
    description: "An OG description",
    site_name: "Example",
    image: "https://example.org/img/card.png",
  });
});

test("Twitter tags, then the plain description and <title>, are the fallbacks", () => {
  const twitter = `<meta name="twitter:title" content="T"><meta name="twitter:image" content="http://x/i.jpg">`;
  assert.equal(extractPreview(twitter, "http://x/").title, "T");
  assert.equal(extractPreview(twitter, "http://x/").image, "http://x/i.jpg");
  const plain = `<title>Just &lt;a&gt; title</title><meta name="description" content="d">`;
  assert.deepEqual(extractPreview(plain, "http://x/"), {
    title: "Just <a> title",
    description: "d",
    site_name: null,
    image: null,
  });
});

test("a page that says nothing is a preview of nulls; an svg's <title> is not the page's", () => {
  assert.deepEqual(extractPreview(`<body><svg><title>icon</title></svg></body>`, "http://x/"), {
    title: null,
    description: null,
    site_name: null,
    image: null,
  });
});

test("images that are not http(s) are dropped, long texts are cut", () => {
  const html = `<meta property="og:image" content="javascript:alert(1)"><title>${"é".repeat(400)}</title>`;
  const preview = extractPreview(html, "http://x/");
  assert.equal(preview.image, null);
  assert.equal(Array.from(preview.title).length, 300);
});

test("the charset comes from the headers, else from the page, else UTF-8", () => {
  const cp1251 = Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]); // "Привет"
  assert.equal(decodeHtml(cp1251, "windows-1251"), "Привет");
  const declared = Buffer.concat([Buffer.from('<meta charset="windows-1251">'), cp1251]);
  assert.ok(decodeHtml(declared, null).endsWith("Привет"));
  assert.equal(decodeHtml(Buffer.from("héllo"), null), "héllo");
  assert.equal(decodeHtml(Buffer.from("héllo"), "no-such-charset"), "héllo");
});
