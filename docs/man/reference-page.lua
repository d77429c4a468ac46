-- Makes a man page of a page of docs/: its "# Title" gives way to NAME (the metadata's `name`)
-- and DESCRIPTION (its opening paragraphs); its "##" sections become the page's sections (.SH)
-- and its "###" their subsections.
function Pandoc(doc)
  local blocks = {
    pandoc.Header(1, "NAME"),
    pandoc.Para(pandoc.utils.stringify(doc.meta.name)),
    pandoc.Header(1, "DESCRIPTION"),
  }
  for _, block in ipairs(doc.blocks) do
    if block.t ~= "Header" then
      table.insert(blocks, block)
    elseif block.level > 1 then
      block.level = block.level - 1
      table.insert(blocks, block)
    end
  end
  return pandoc.Pandoc(blocks, doc.meta)
end

-- pandoc sizes a table's columns to 70 ens in all, which with the gaps between them is wider
-- than an 80-column terminal leaves a man page (tbl warns, and squeezes the text): 90% fits.
function Table(table)
  for _, colspec in ipairs(table.colspecs) do
    if type(colspec[2]) == "number" then colspec[2] = colspec[2] * 0.9 end
  end
  return table
end
