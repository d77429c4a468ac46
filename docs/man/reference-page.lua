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
