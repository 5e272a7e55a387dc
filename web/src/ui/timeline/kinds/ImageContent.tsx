import { MediaPlaceholder } from "./MediaPlaceholder";
import type { ContentProps } from "./types";

export function ImageContent({ content }: ContentProps<"image">) {
  return <MediaPlaceholder kind="image" icon="🖼" media={content.media} />;
}
