--[[
quarto-subset.lua: the project's small Quarto subset, one filter for two drivers.

* Pandoc (engine/render.py, `pandoc --lua-filter`): the filter does all of
  the subset's work, steps 1-7 below.
* Quarto (`quarto render`, through the review-engine extension,
  _extensions/review-engine/_extension.yml, at post-quarto): Quarto has
  already expanded the values, numbered sections, figures and tables and
  resolved the cross-references; the filter leaves those to Quarto and adds
  what Quarto does not do (see the Quarto driver at the end): the strict
  failures, the build stamp, the caption source links, the provenance
  attributes and the PDF's long-table rule.

The subset is documented in manuscript/README.md. Under Pandoc this filter
must run before --citeproc, because cross-references (@fig-x, @tbl-x,
@sec-x) are parsed as citations.

Steps of the Pandoc driver, in order:
  1. {{< meta v.KEY >}} -> the inlines of metadata v.KEY (body and metadata)
  2. ::: {#tbl-x} divs -> Figure floats (last paragraph = caption)
  3. number sections, figures and tables in document order
  4. prefix captions with "Figure N:" / "Table N:"
  5. cross-reference citations -> links with class quarto-xref
  6. byline (authors, affiliations, correspondence) and build stamp
     metadata for the templates
  7. Typst only: image paths made relative to the Typst root

Values get a `made-by` attribute (HTML: data-made-by), the script their
title names, for the hover tooltip of templates/values.css. Captions end
with "Source: <script>", linked, when the figure or table names the script
that made it (step 4).

Both drivers read `render-info` from the metadata file that
engine/render.py writes (results/render-meta.yml, listed in _quarto.yml's
metadata-files): `stamp`, the build stamp's items ({label, value, href?,
note?}), and `source-base`, the prefix that turns a project path into a
link (the repository at the commit, or a path relative to the output).
Every string in it is Markdown-escaped plain text; anything that parses as
markup is refused.

Every inconsistency is an error (non-zero exit), never a warning.
]]

local NBSP = "\u{00A0}"
local XREF_NAME = { fig = "Figure", tbl = "Table", sec = "Section" }
-- Set by engine/render.py for Typst output: the directory of the .qmd,
-- relative to the Typst root (the project root).
local ROOT_PREFIX_KEY = "typst-root-prefix"
local RENDER_INFO_KEY = "render-info"
-- `quarto` is the Quarto Lua API, defined only when Quarto runs the filter.
local UNDER_QUARTO = type(quarto) == "table" and type(quarto.doc) == "table"
-- Long tables (the appendix ledger) run over pages instead of overprinting the last one, breaking between
-- rows only (a row split over two pages reads as two half rows). Pandoc's Typst writer gives a table
-- float `kind: table`; Quarto's gives `kind: "quarto-float-tbl"` (quarto-cli
-- src/resources/filters/customnodes/floatreftarget.lua, the typst renderer).
local TYPST_FLOAT_RULES = table.concat({
  "#show figure.where(kind: table): set block(breakable: true)",
  '#show figure.where(kind: "quarto-float-tbl"): set block(breakable: true)',
  "#set table.cell(breakable: false)",
}, "\n")
-- A project-relative script path, as the artifacts name their maker.
local SCRIPT_PATH = "^[%w_%-][%w_%-%./]*%.py$"

local function fail(message)
  error("quarto-subset: " .. message, 0)
end

local function xref_kind(id)
  local prefix = id:match("^(%a+)%-")
  if prefix and XREF_NAME[prefix] then
    return prefix
  end
  return nil
end

-- 1. Values ---------------------------------------------------------------

local function script_path(text)
  if text and text:match(SCRIPT_PATH) and not text:find("..", 1, true) then
    return text
  end
  return nil
end

-- The tooltip names the script that made the value: the first script path
-- in the value's title ("key: description [rule values (engine/values.py)]").
local value_provenance = {
  Span = function(span)
    if span.classes:includes("value") and span.attributes.title then
      for word in span.attributes.title:gmatch("[%w_%-%./]+") do
        local script = script_path(word)
        if script then
          span.attributes["made-by"] = script
          return span
        end
      end
    end
  end,
}

local function value_inlines(values, key)
  local value = values[key]
  if value == nil then
    fail("unknown value key 'v." .. key .. "' in {{< meta v." .. key .. " >}}")
  end
  local kind = pandoc.utils.type(value)
  if kind == "Inlines" then
    return value:clone():walk(value_provenance)
  end
  if kind == "Blocks" and #value == 1 and (value[1].t == "Para" or value[1].t == "Plain") then
    return value[1].content:clone():walk(value_provenance)
  end
  if kind == "string" or kind == "number" or kind == "boolean" then
    return pandoc.Inlines({ pandoc.Str(tostring(value)) })
  end
  fail("value 'v." .. key .. "' is not inline text (" .. kind .. ")")
end

local function is_separator(el)
  return el ~= nil and (el.t == "Space" or el.t == "SoftBreak")
end

local function str_text(el)
  if el ~= nil and el.t == "Str" then
    return el.text
  end
  return nil
end

-- Pandoc tokenises "{{< meta v.KEY >}}" as Str "{{<", Space, Str "meta",
-- Space, Str "v.KEY", Space, Str ">}}"; punctuation glued to either end
-- ("({{<", ">}}).") stays in the first and last Str.
local function match_meta_shortcode(inlines, i)
  local open = str_text(inlines[i])
  local prefix = open and open:match("^(.-){{<$")
  if prefix == nil then
    return nil
  end
  if not (is_separator(inlines[i + 1]) and str_text(inlines[i + 2]) == "meta"
      and is_separator(inlines[i + 3]) and is_separator(inlines[i + 5])) then
    return nil
  end
  local key = (str_text(inlines[i + 4]) or ""):match("^v%.([%w_%-]+)$")
  local suffix = (str_text(inlines[i + 6]) or ""):match("^>}}(.*)$")
  if key == nil or suffix == nil then
    return nil
  end
  return prefix, key, suffix
end

local function expand_values(inlines, values)
  local out = pandoc.Inlines({})
  local i = 1
  while i <= #inlines do
    local prefix, key, suffix = match_meta_shortcode(inlines, i)
    if key then
      if prefix ~= "" then
        out:insert(pandoc.Str(prefix))
      end
      out:extend(value_inlines(values, key))
      if suffix:match("{{<$") then
        -- Two shortcodes with nothing between them but punctuation ("{{< meta v.a >}}–{{< meta v.b >}}"):
        -- the glued text ends with the next opener, so match again from it.
        inlines[i + 6] = pandoc.Str(suffix)
        i = i + 6
      else
        if suffix ~= "" then
          out:insert(pandoc.Str(suffix))
        end
        i = i + 7
      end
    else
      local text = str_text(inlines[i])
      if text and (text:find("{{<", 1, true) or text:find(">}}", 1, true)) then
        fail("shortcode not in the subset or malformed near '" .. text
          .. "' (only {{< meta v.KEY >}} and {{< include path >}})")
      end
      out:insert(inlines[i])
      i = i + 1
    end
  end
  return out
end

local function values_filter(values)
  return {
    Inlines = function(inlines)
      return expand_values(inlines, values)
    end,
  }
end

local function walk_meta_value(value, filter)
  local kind = pandoc.utils.type(value)
  if kind == "Inlines" or kind == "Blocks" then
    return value:walk(filter)
  end
  if kind == "List" or kind == "table" then
    for k, v in pairs(value) do
      value[k] = walk_meta_value(v, filter)
    end
  end
  return value
end

local function expand_document_values(doc)
  local values = doc.meta.v or {}
  local filter = values_filter(values)
  for key, value in pairs(doc.meta) do
    if key ~= "v" then
      doc.meta[key] = walk_meta_value(value, filter)
    end
  end
  doc.blocks = doc.blocks:walk(filter)
  return doc
end

-- 2. Table floats -----------------------------------------------------------

local function table_float(div)
  local id = div.identifier
  local caption = div.content[#div.content]
  if caption == nil or caption.t ~= "Para" then
    fail("table div #" .. id .. " must end with a caption paragraph")
  end
  local body = div.content:clone()
  body:remove(#body)
  if #body == 0 then
    fail("table div #" .. id .. " has a caption but no table")
  end
  return pandoc.Figure(body, { long = { pandoc.Plain(caption.content) } },
    pandoc.Attr(id, { "quarto-float", "quarto-float-tbl" }))
end

local table_floats = {
  Div = function(div)
    if xref_kind(div.identifier) == "tbl" then
      return table_float(div)
    end
  end,
}

-- 3./4. Numbering and caption prefixes --------------------------------------

local function prefix_caption(figure, label)
  local first = figure.caption.long[1]
  if first == nil or (first.t ~= "Plain" and first.t ~= "Para") or #first.content == 0 then
    fail("#" .. figure.identifier .. " has no caption")
  end
  local prefix = pandoc.Span({ pandoc.Str(label .. ":") }, { class = "quarto-float-caption-prefix" })
  if FORMAT == "typst" then
    -- Typst drops span classes, so the label's weight is set here.
    prefix = pandoc.Strong({ prefix })
  end
  first.content:insert(1, pandoc.Space())
  first.content:insert(1, prefix)
  return figure
end

-- Under Pandoc the image paths are relative to the working directory, which engine/render.py sets to
-- the .qmd's; under Quarto they are resolved against the document (quarto.doc.input_file).
local function local_file(src)
  if UNDER_QUARTO and not pandoc.path.is_absolute(src) then
    return pandoc.path.join({ pandoc.path.directory(quarto.doc.input_file), src })
  end
  return src
end

-- The script that made a float, as its artifact says: a table include's
-- comment block "Generated by scripts/x.py ...", or an SVG's creator
-- (matplotlib's savefig metadata {"Creator": "scripts/x.py"}).
local function svg_creator(src)
  if not src:match("%.svg$") then
    return nil
  end
  local file = io.open(local_file(src), "r")
  if file == nil then
    return nil -- Pandoc and Typst report the missing image themselves
  end
  local svg = file:read("a")
  file:close()
  return svg:match("<dc:creator>%s*<cc:Agent>%s*<dc:title>([^<]*)</dc:title>")
end

local function float_source(content)
  local source = nil
  content:walk({
    RawBlock = function(raw)
      if source == nil and raw.format == "comment" then
        source = script_path(raw.text:match("Generated by (%S+)"))
      end
    end,
    Image = function(image)
      if source == nil then
        source = script_path(svg_creator(image.src))
      end
    end,
  })
  return source
end

-- `caption` is the last Plain/Para of a float's caption, `content` the float's blocks.
local function append_source_link(caption, content, source_base)
  local script = float_source(content)
  if script == nil then
    return
  end
  caption.content:extend({
    pandoc.Space(),
    -- A no-break space: "Source:" never ends a line without its script.
    pandoc.Span({ pandoc.Str("Source:" .. NBSP), pandoc.Link({ pandoc.Code(script) }, source_base .. script) },
      { class = "source-link" }),
  })
end

-- Pandoc's --number-sections scheme: counters per level, joined with ".";
-- unnumbered headings neither get nor consume a number.
local function number_headers_and_floats(doc, registry, number_sections, source_base)
  local counts = { fig = 0, tbl = 0 }
  local levels = {}
  return doc:walk({
    traverse = "topdown",
    Header = function(header)
      local numbered = number_sections and not header.classes:includes("unnumbered")
      if xref_kind(header.identifier) == "sec" and not numbered then
        registry[header.identifier] = { unnumbered = true }
      end
      if not numbered then
        return nil
      end
      levels[header.level] = (levels[header.level] or 0) + 1
      for deeper = header.level + 1, 6 do
        levels[deeper] = nil
      end
      local parts = {}
      for level = 1, header.level do
        parts[level] = tostring(levels[level] or 0)
      end
      local number = table.concat(parts, ".")
      if xref_kind(header.identifier) == "sec" then
        registry[header.identifier] = { kind = "sec", number = number }
      end
      header.content:insert(1, pandoc.Space())
      header.content:insert(1, pandoc.Span({ pandoc.Str(number) }, { class = "header-section-number" }))
      return header
    end,
    Figure = function(figure)
      local kind = xref_kind(figure.identifier)
      if kind == nil then
        return nil
      end
      if kind == "sec" then
        fail("#" .. figure.identifier .. " is a section id on a figure")
      end
      if registry[figure.identifier] then
        fail("duplicate cross-reference id #" .. figure.identifier)
      end
      counts[kind] = counts[kind] + 1
      registry[figure.identifier] = { kind = kind, number = tostring(counts[kind]) }
      if kind == "fig" then
        figure.classes:extend({ "quarto-float", "quarto-float-fig" })
      end
      prefix_caption(figure, XREF_NAME[kind] .. NBSP .. counts[kind])
      append_source_link(figure.caption.long[#figure.caption.long], figure.content, source_base)
      return figure
    end,
    Image = function(image)
      if xref_kind(image.identifier) then
        fail("image #" .. image.identifier .. " is not a figure: put it alone in its own paragraph")
      end
    end,
  })
end

-- 5. Cross-references --------------------------------------------------------

local function xref_link(citation, registry)
  local id = citation.id
  local target = registry[id]
  if target == nil then
    fail("unresolved cross-reference @" .. id)
  end
  if target.unnumbered then
    fail("cross-reference @" .. id .. " points to an unnumbered section")
  end
  local text = XREF_NAME[target.kind] .. NBSP .. target.number
  if citation.mode == "SuppressAuthor" then
    text = target.number
  end
  local out = pandoc.Inlines({})
  if #citation.prefix > 0 then
    out:extend(citation.prefix)
    out:insert(pandoc.Space())
  end
  out:insert(pandoc.Link({ pandoc.Str(text) }, "#" .. id, "", { class = "quarto-xref" }))
  if #citation.suffix > 0 then
    out:extend(citation.suffix)
  end
  return out
end

local function xref_filter(registry)
  return {
    Cite = function(cite)
      local xrefs = 0
      for _, citation in ipairs(cite.citations) do
        if xref_kind(citation.id) then
          xrefs = xrefs + 1
        end
      end
      if xrefs == 0 then
        return nil
      end
      if xrefs < #cite.citations then
        fail("cross-references and citations mixed in one bracket: " .. pandoc.utils.stringify(cite.content))
      end
      local out = pandoc.Inlines({})
      for index, citation in ipairs(cite.citations) do
        if index > 1 then
          out:extend({ pandoc.Str(","), pandoc.Space() })
        end
        out:extend(xref_link(citation, registry))
      end
      return out
    end,
  }
end

-- 6. Byline and build stamp ---------------------------------------------------

local function as_inlines(value)
  local kind = pandoc.utils.type(value)
  if kind == "Inlines" then
    return value
  end
  if kind == "Blocks" then
    return pandoc.utils.blocks_to_inlines(value)
  end
  return pandoc.Inlines({ pandoc.Str(pandoc.utils.stringify(value)) })
end

local function as_list(value)
  if value == nil then
    return {}
  end
  if pandoc.utils.type(value) == "List" then
    return value
  end
  return { value }
end

local function is_map(value)
  return pandoc.utils.type(value) == "table"
end

local function affiliation_text(affiliation)
  if not is_map(affiliation) then
    return as_inlines(affiliation)
  end
  local out = pandoc.Inlines({})
  for _, field in ipairs({ "department", "name", "city", "country" }) do
    if affiliation[field] ~= nil then
      if #out > 0 then
        out:extend({ pandoc.Str(","), pandoc.Space() })
      end
      out:extend(as_inlines(affiliation[field]))
    end
  end
  return out
end

local function author_name(author)
  if not is_map(author) then
    return as_inlines(author)
  end
  local name = author.name
  if is_map(name) then
    if name.literal then
      return as_inlines(name.literal)
    end
    local out = pandoc.Inlines({})
    out:extend(as_inlines(name.given or ""))
    out:insert(pandoc.Space())
    out:extend(as_inlines(name.family or ""))
    return out
  end
  if name == nil then
    fail("author without a name")
  end
  return as_inlines(name)
end

-- Quarto's author schema, reduced: affiliations are strings, maps with a
-- name, or {ref: id} pointing into the top-level `affiliations` list.
local function build_byline(meta)
  local by_id = {}
  for _, affiliation in ipairs(as_list(meta.affiliations)) do
    if is_map(affiliation) and affiliation.id then
      by_id[pandoc.utils.stringify(affiliation.id)] = affiliation
    end
  end
  local marks, affiliations, authors, correspondence = {}, pandoc.List({}), pandoc.List({}), pandoc.List({})
  for _, author in ipairs(as_list(meta.author)) do
    local author_marks = pandoc.List({})
    local listed = is_map(author) and (author.affiliations or author.affiliation) or nil
    for _, affiliation in ipairs(as_list(listed)) do
      if is_map(affiliation) and affiliation.ref then
        local ref = pandoc.utils.stringify(affiliation.ref)
        affiliation = by_id[ref] or fail("author affiliation ref '" .. ref .. "' is not in `affiliations`")
      end
      local text = affiliation_text(affiliation)
      local key = pandoc.utils.stringify(text)
      if marks[key] == nil then
        marks[key] = tostring(#affiliations + 1)
        affiliations:insert({ mark = pandoc.Inlines({ pandoc.Str(marks[key]) }), name = text })
      end
      author_marks:insert(marks[key])
    end
    local name = author_name(author)
    local entry = { name = name }
    if #author_marks > 0 then
      entry.marks = pandoc.Inlines({ pandoc.Str(table.concat(author_marks, ",")) })
    end
    authors:insert(entry)
    if is_map(author) and author.corresponding and author.email then
      correspondence:insert({ name = name, email = as_inlines(author.email) })
    end
  end
  meta["byline-authors"] = #authors > 0 and authors or nil
  meta["byline-affiliations"] = #affiliations > 0 and affiliations or nil
  meta["byline-correspondence"] = #correspondence > 0 and correspondence or nil
  return meta
end

-- The stamp's items are plain text (engine/render.py Markdown-escapes every
-- string it writes): each becomes Str/Space inlines, so no stamp text can
-- turn into markup in either output.
local function stamp_items(stamp)
  local items = pandoc.List({})
  for _, item in ipairs(stamp) do
    local value = pandoc.Inlines(item.value)
    if item.href then
      value = pandoc.Inlines({ pandoc.Link(value, item.href) })
    end
    if item.note then
      value:extend({ pandoc.Space(), pandoc.Str("(" .. item.note .. ")") })
    end
    items:insert({ label = pandoc.Inlines(item.label), value = value })
  end
  return items
end

local RENDER_META_HINT = "list results/render-meta.yml in metadata-files of _quarto.yml and run the pipeline"
  .. " (engine/render.py writes the file)"

local function plain_text(value, where)
  local kind = pandoc.utils.type(value)
  if kind == "string" then
    return value
  end
  local inlines = nil
  if kind == "Inlines" then
    inlines = value
  elseif kind == "Blocks" and #value == 1 and (value[1].t == "Plain" or value[1].t == "Para") then
    inlines = value[1].content
  end
  if inlines == nil then
    fail("`" .. RENDER_INFO_KEY .. "." .. where .. "` is not text: " .. RENDER_META_HINT)
  end
  for _, inline in ipairs(inlines) do
    if inline.t ~= "Str" and inline.t ~= "Space" then
      fail("`" .. RENDER_INFO_KEY .. "." .. where .. "` is not plain text (" .. inline.t .. "): "
        .. RENDER_META_HINT)
    end
  end
  return pandoc.utils.stringify(inlines)
end

-- {stamp = {{label, value, href?, note?}, ...}, source_base = "..."} from the metadata, which loses the key.
local function render_info(meta)
  local info = meta[RENDER_INFO_KEY]
  meta[RENDER_INFO_KEY] = nil
  if not is_map(info) or info.stamp == nil or info["source-base"] == nil then
    fail("metadata `" .. RENDER_INFO_KEY .. "` missing or incomplete: " .. RENDER_META_HINT)
  end
  local stamp = {}
  for index, item in ipairs(as_list(info.stamp)) do
    local entry = {}
    for _, field in ipairs({ "label", "value", "href", "note" }) do
      if is_map(item) and item[field] ~= nil then
        entry[field] = plain_text(item[field], "stamp[" .. index .. "]." .. field)
      end
    end
    if entry.label == nil or entry.value == nil then
      fail("`" .. RENDER_INFO_KEY .. ".stamp[" .. index .. "]` needs a label and a value: " .. RENDER_META_HINT)
    end
    stamp[index] = entry
  end
  return { stamp = stamp, source_base = plain_text(info["source-base"], "source-base") }
end

-- 7. Typst image paths ---------------------------------------------------------

local function normalise_path(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      if #parts == 0 then
        fail("image path '" .. path .. "' leaves the project root")
      end
      table.remove(parts)
    elseif part ~= "." then
      table.insert(parts, part)
    end
  end
  return "/" .. table.concat(parts, "/")
end

local function typst_image_paths(prefix)
  return {
    Image = function(image)
      if image.src:match("^%a[%w+.-]*:") then
        fail("image '" .. image.src .. "' is not a local file")
      end
      if image.src:sub(1, 1) ~= "/" then
        image.src = normalise_path(prefix .. "/" .. image.src)
      end
      return image
    end,
  }
end

-- Drivers ---------------------------------------------------------------------

local function typst_float_rules()
  return pandoc.RawBlock("typst", TYPST_FLOAT_RULES)
end

local function pandoc_driver(doc)
  local info = render_info(doc.meta)
  doc = expand_document_values(doc)
  doc.meta.v = nil
  doc = doc:walk(table_floats)
  local registry = {}
  local number_sections = doc.meta["number-sections"] == true
  doc = number_headers_and_floats(doc, registry, number_sections, info.source_base)
  doc = doc:walk(xref_filter(registry))
  doc.meta = build_byline(doc.meta)
  doc.meta["build-items"] = stamp_items(info.stamp)
  if FORMAT == "typst" then
    local prefix = pandoc.utils.stringify(doc.meta[ROOT_PREFIX_KEY] or "")
    doc = doc:walk(typst_image_paths(prefix))
    doc.blocks:insert(1, typst_float_rules())
  end
  doc.meta[ROOT_PREFIX_KEY] = nil
  return doc
end

-- Under Quarto the templates are Quarto's, so the stamp is the first block of the body: in HTML a
-- div.build-stamp holding the items as the Pandoc template writes them, in Typst the template's small
-- monospace line. The last item names the renderer, which the Python side cannot know.
local function stamp_block(info)
  local stamp = { table.unpack(info.stamp) }
  stamp[#stamp + 1] = {
    label = "renderer",
    value = "Quarto" .. NBSP .. tostring(quarto.version)
      .. " (Pandoc" .. NBSP .. tostring(PANDOC_VERSION) .. ")",
  }
  local line = pandoc.Inlines({})
  for index, item in ipairs(stamp_items(stamp)) do
    if index > 1 then
      line:extend({ pandoc.Space(), pandoc.Str("·"), pandoc.Space() })
    end
    line:insert(pandoc.Span({
      pandoc.Span(item.label, { class = "build-label" }),
      pandoc.Str(":"),
      pandoc.Space(),
      pandoc.Span(item.value, { class = "build-value" }),
    }, { class = "build-item" }))
  end
  if FORMAT == "typst" then
    return {
      pandoc.RawBlock("typst", '#block(below: 1.8em)[#set text(font: "DejaVu Sans Mono", size: 0.68em, '
        .. "fill: luma(35%), hyphenate: false)"),
      pandoc.Plain(line),
      pandoc.RawBlock("typst", "]"),
    }
  end
  return { pandoc.Div({ pandoc.Para(line) }, { class = "build-stamp" }) }
end

-- Quarto writes what it cannot resolve as bold "?meta:KEY" / "?@ID" text and only warns
-- (quarto-cli src/resources/filters/quarto-pre/shortcodes-handlers.lua, crossref/refs.lua); here it fails.
local function quarto_unresolved(strong)
  local text = pandoc.utils.stringify(strong)
  local key = text:match("^%?meta:(.*)$")
  if key then
    fail("unknown value key '" .. key .. "' in {{< meta " .. key .. " >}}")
  end
  local id = text:match("^%?@(.*)$")
  if id then
    fail("unresolved cross-reference @" .. id)
  end
end

local function quarto_driver()
  local info = nil
  return {
    {
      Meta = function(meta)
        info = render_info(meta)
        return meta
      end,
    },
    {
      Strong = quarto_unresolved,
      Span = value_provenance.Span,
      FloatRefTarget = function(float)
        local caption = float.caption_long
        if caption ~= nil and caption.content ~= nil then
          local content = float.content
          if pandoc.utils.type(content) == "Block" then
            content = pandoc.Blocks({ content })
          end
          append_source_link(caption, content, info.source_base)
        end
        return float
      end,
      Pandoc = function(doc)
        local front = stamp_block(info)
        if FORMAT == "typst" then
          table.insert(front, 1, typst_float_rules())
        end
        for index, block in ipairs(front) do
          doc.blocks:insert(index, block)
        end
        return doc
      end,
    },
  }
end

if UNDER_QUARTO then
  return quarto_driver()
end
return { { Pandoc = pandoc_driver } }
