// What an OVA offers, read in the browser before a byte is sent: its descriptor is the tar's
// first file (DSP0243 5.3); its DeploymentOptionSection names the configurations the import's
// `profile` may choose, its NetworkSection the networks `networkMap` may give existing Networks. Only XML is parsed here (never HTML), and what it yields goes
// into the page as text.
const BLOCK = 512;
const MAX_DESCRIPTOR = 16 * 1024 * 1024;
const ascii = (bytes) => new TextDecoder().decode(bytes).replace(/\0.*$/s, "");

/** The descriptor's text: the first regular file of the tar, if it is an .ovf; else null. */
async function descriptorText(file) {
  for (let offset = 0; offset + BLOCK <= file.size;) {
    const header = new Uint8Array(await file.slice(offset, offset + BLOCK).arrayBuffer());
    const name = ascii(header.subarray(0, 100));
    const size = parseInt(ascii(header.subarray(124, 136)).trim() || "0", 8);
    const type = String.fromCharCode(header[156] || 48);
    if (!name || Number.isNaN(size)) return null;
    if ("xgLK".includes(type)) {              // pax and GNU long-name headers come before the file
      offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
      continue;
    }
    if (!/\.ovf$/i.test(name) || size > MAX_DESCRIPTOR) return null;
    return file.slice(offset + BLOCK, offset + BLOCK + size).text();
  }
  return null;
}

const local = (el, name) => [...el.children].find((c) => c.localName === name);
const ovfAttr = (el, name) => [...el.attributes].find((a) => a.localName === name)?.value;

/**
 * What a package lets the importer choose, or empty lists when it has none or cannot be read here:
 *   options: [{id, label, isDefault}] of its DeploymentOptionSection (the import's `profile`);
 *   networks: [{name, description}] of its NetworkSection (the import's `networkMap` keys).
 */
export async function packageChoices(file) {
  const none = {options: [], networks: []};
  const text = await descriptorText(file).catch(() => null);
  if (!text) return none;
  const doc = new DOMParser().parseFromString(text, "application/xml");
  if (doc.getElementsByTagName("parsererror").length) return none;
  const section = (name) => [...doc.documentElement.children].find((c) => c.localName === name);
  const items = (name, item) => [...(section(name)?.children || [])].filter((c) => c.localName === item);
  return {
    options: items("DeploymentOptionSection", "Configuration").map((c) => ({
      id: ovfAttr(c, "id") || "",
      label: (local(c, "Label")?.textContent || "").trim(),
      isDefault: ovfAttr(c, "default") === "true",
    })).filter((o) => o.id),
    networks: items("NetworkSection", "Network").map((n) => ({
      name: ovfAttr(n, "name") || "",
      description: (local(n, "Description")?.textContent || "").trim(),
    })).filter((n) => n.name),
  };
}
