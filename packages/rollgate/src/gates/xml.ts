/** Well-formedness check and parse for the XML reports (JUnit, Cobertura), with fast-xml-parser. */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { BadArtifact } from './types.js';

/** A parsed element: attributes (unprefixed), child elements, and `#text`. */
export type XmlNode = { [key: string]: XmlValue };
export type XmlValue = string | number | boolean | XmlNode | XmlValue[] | undefined;

/**
 * Parses `text` or throws BadArtifact saying where it is not well-formed. Elements named in
 * `arrays` are always arrays, so one and many children read the same way.
 */
export function parseXml(text: string, what: string, arrays: readonly string[]): XmlNode {
  // Reports never declare entities; refusing them rules out entity-expansion attacks.
  if (/<!ENTITY/i.test(text)) throw new BadArtifact(`${what} declares XML entities (<!ENTITY>), which reports never need; refusing to expand them`);
  if (text.trim().length === 0) throw new BadArtifact(`${what} is empty`);
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new BadArtifact(`${what} is not well-formed XML (line ${valid.err.line}${valid.err.col ? `, column ${valid.err.col}` : ''}: ${valid.err.msg}); the file may be truncated or not XML`);
  }
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    parseTagValue: false,
    htmlEntities: true,
    isArray: (name: string, _path: string, _leaf: boolean, isAttribute: boolean) => !isAttribute && arrays.includes(name),
  });
  return parser.parse(text) as XmlNode;
}

export function isNode(v: XmlValue): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Child elements named `name` (always an array; empty elements parse as '' and are kept). */
export function children(node: XmlNode, name: string): XmlNode[] {
  const v = node[name];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.map((x) => (isNode(x) ? x : { '#text': typeof x === 'string' ? x : '' }));
}

export function attr(node: XmlNode, name: string): string | undefined {
  const v = node[name];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

export function text(node: XmlNode): string {
  const v = node['#text'];
  return typeof v === 'string' ? v : '';
}

/** The name of the root element, skipping the `?xml` declaration. */
export function rootName(doc: XmlNode): string | undefined {
  return Object.keys(doc).find((k) => !k.startsWith('?') && !k.startsWith('!') && k !== '#text');
}
