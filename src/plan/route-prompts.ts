/**
 * Default instructions for the routes that take a prompt, written to the brief's prompting
 * tips: number the images and give each a role, say first what to preserve and only then what
 * to change, and ask for the lighting to match (otherwise the imported face "floats"). A
 * `swap.prompt` replaces them whole.
 *
 * The batch prompt names no count: every chunk of a batch gets the same text, so chunks stay
 * consistent with each other.
 */

export type Style = 'photoreal' | 'stylized';

/** GPT Image 2 Edit, `images: [scene, identity]`. */
export function gptImagePrompt(style: Style): string {
  return style === 'stylized'
    ? 'Image 1 is the scene and image 2 is the identity reference. Preserve image 1 pose, clothing, hair, lighting, background, and art style exactly. Replace only the face of the character in image 1 with the face from image 2, drawn in the style of image 1. Match shading and lighting to image 1.'
    : 'Image 1 is the scene and image 2 is the identity reference. Preserve image 1 pose, clothing, hair, lighting, and background exactly. Replace only the face of the person in image 1 with the face from image 2. Match skin tone and lighting to image 1.';
}

/** Nano Banana 2 Edit, `image_urls: [identity, scene, scene, …]`. */
export function nanoBananaPrompt(style: Style): string {
  return style === 'stylized'
    ? "The first image is the identity reference; every image after it is a scene. Preserve each scene's pose, clothing, hair, lighting, background, and art style exactly. Replace only the face of the character in each scene with the face shown in the first image, drawn in that scene's style, and return one image per scene, in order. Match shading and lighting to each scene."
    : "The first image is the identity reference; every image after it is a scene. Preserve each scene's pose, clothing, hair, lighting, and background exactly. Replace only the face of the person in each scene with the face shown in the first image, and return one image per scene, in order. Match skin tone and lighting to each scene.";
}

/**
 * FLUX Kontext Pro: one declarative instruction around the prose description, which reads
 * after "the face to that of" (write it as a noun phrase: "a 35-year-old woman with hazel
 * eyes"). Returned as the text before and after the description.
 */
export function fluxKontextPrompt(style: Style): { readonly before: string; readonly after: string } {
  return style === 'stylized'
    ? {
        before:
          'Keep pose, clothing, hair, lighting, background, and art style exactly. Change only the face to that of ',
        after: ', drawn in the same style. Match shading and lighting to the image.',
      }
    : {
        before:
          'Keep pose, clothing, hair, lighting, and background exactly. Change only the face to that of ',
        after: '. Match skin tone and lighting to the image.',
      };
}
